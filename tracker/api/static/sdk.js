/* tracker first-party SDK (issue 18; README "Conversions from the browser").
   <script src="https://track.shop.example/sdk.js" data-offer="34" async></script>
   data-offer: the offer id (required for conversions); data-param: the landing-page
   parameter with the click id (click_id); data-days: cookie lifetime in days, the offer's
   attribution window (30); data-consent="required": store nothing before consent(true);
   data-cookie-domain: e.g. shop.example to share the cookie with its subdomains. */
(function (w, d) {
  "use strict";
  if (w.tracker && w.tracker.sdk) return;
  var NAME = "trk_click_id";
  var UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  var me = d.currentScript;
  if (!me) {
    var all = d.querySelectorAll("script[src*='/sdk']");
    me = all[all.length - 1];
  }
  function attr(name, dflt) {
    var v = me && me.getAttribute("data-" + name);
    return v ? v : dflt;
  }
  var src = (me && me.src) || "";
  var base = src.replace(/\/sdk(\/[\w.-]+)?\.js([?#].*)?$/, "");
  var offer = attr("offer", "");
  var param = attr("param", "click_id");
  var days = Math.min(Math.max(parseFloat(attr("days", "30")) || 30, 1), 400);
  var cookieDomain = attr("cookie-domain", "");
  var consented = attr("consent", "") !== "required";
  var held = null; // a click id seen before consent: in memory only

  function read() {
    var m = d.cookie.match(/(?:^|;\s*)trk_click_id=([^;]*)/);
    var v = m ? decodeURIComponent(m[1]) : null;
    return v && UUID.test(v) ? v : null;
  }
  function cookie(value, maxAge) {
    d.cookie = NAME + "=" + value + "; Path=/; Max-Age=" + maxAge + "; SameSite=Lax" +
      (cookieDomain ? "; Domain=" + cookieDomain : "") +
      (w.location.protocol === "https:" ? "; Secure" : "");
  }
  function store(id) {
    if (consented) cookie(encodeURIComponent(id), Math.round(days * 86400));
    else held = id;
  }
  if (read()) consented = true; // stored earlier: consent was given then

  var fromUrl = null;
  try {
    fromUrl = new URL(w.location.href).searchParams.get(param);
  } catch (e) { /* no URL API: no click id from the page */ }
  if (fromUrl && UUID.test(fromUrl)) store(fromUrl.toLowerCase());

  function clickId() {
    return consented ? read() : null;
  }
  function consent(yes) {
    if (yes) {
      consented = true;
      if (held) store(held);
    } else {
      consented = false;
      cookie("", 0);
    }
    held = null;
  }
  function text(v) {
    return v === undefined || v === null || v === "" ? undefined : String(v);
  }
  function fail(status, body) {
    var e = new Error((body && body.error && body.error.message) || "conversion refused");
    e.status = status;
    e.body = body;
    return e;
  }
  function conversion(o) {
    o = o || {};
    return new Promise(function (resolve, reject) {
      if (!offer) return reject(fail(0, null));
      var body = JSON.stringify({
        order_id: text(o.order_id),
        amount: text(o.amount),
        currency: text(o.currency && String(o.currency).toUpperCase()),
        goal: text(o.goal),
        click_id: clickId() || undefined,
        promo_code: text(o.promo_code)
      });
      var url = base + "/sdk/offers/" + encodeURIComponent(offer) + "/conversions";
      if (!w.fetch) { // old engines: a beacon survives the unload too, its answer is lost
        var sent = w.navigator.sendBeacon &&
          w.navigator.sendBeacon(url, new Blob([body], { type: "text/plain" }));
        return sent ? resolve({ id: null, status: "sent" }) : reject(fail(0, null));
      }
      // keepalive: the request outlives the page (a thank-you page left at once)
      w.fetch(url, {
        method: "POST", mode: "cors", credentials: "omit", keepalive: true,
        headers: { "Content-Type": "application/json" }, body: body
      }).then(function (r) {
        return r.json().then(function (j) {
          if (r.ok) resolve(j); else reject(fail(r.status, j));
        }, function () { reject(fail(r.status, null)); });
      }, reject);
    });
  }
  w.tracker = { sdk: 1, clickId: clickId, conversion: conversion, consent: consent };
})(window, document);
