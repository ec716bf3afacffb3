"""Hosting and cloud networks, by AS number: a click from one is datacenter traffic.

No maintained list of hosting ASNs is packaged on PyPI (docs/adr/0091), so this is
the project's own list, kept small and justified: each entry is a network whose
address space is rented out as servers (public clouds, VPS and dedicated-server
hosts, CDNs and their edge compute), named by its operator as the registries show
it. No person browses from these networks except through a VPN or proxy, which is
what a fraud team wants flagged. Add networks with ``TRACKER_DATACENTER_ASNS``
(JSON list); send additions here with the operator's name.
"""

from __future__ import annotations

HOSTING_ASNS: dict[int, str] = {
    16509: "Amazon (AWS)", 14618: "Amazon (AWS)", 8987: "Amazon (AWS EU)",
    396982: "Google Cloud", 19527: "Google Cloud", 15169: "Google",
    8075: "Microsoft (Azure)", 8068: "Microsoft (Azure)",
    31898: "Oracle Cloud", 36351: "IBM Cloud (SoftLayer)",
    45102: "Alibaba Cloud", 37963: "Alibaba Cloud", 132203: "Tencent Cloud", 45090: "Tencent Cloud",
    55990: "Huawei Cloud", 136907: "Huawei Cloud",
    14061: "DigitalOcean", 63949: "Akamai (Linode)", 20473: "Vultr (Choopa)",
    16276: "OVH", 24940: "Hetzner", 213230: "Hetzner Cloud", 51167: "Contabo",
    12876: "Scaleway", 60781: "Leaseweb", 16265: "Leaseweb", 28753: "Leaseweb",
    30633: "Leaseweb USA", 13335: "Cloudflare", 54113: "Fastly", 54825: "Equinix Metal",
    27357: "Rackspace", 33070: "Rackspace", 8560: "IONOS", 26496: "GoDaddy", 47583: "Hostinger",
    9009: "M247", 60068: "Datacamp (CDN77)", 40676: "Psychz", 8100: "QuadraNet",
    36352: "ColoCrossing", 36007: "Kamatera", 7979: "Servers.com", 62567: "DigitalOcean",
    46606: "Unified Layer", 32244: "Liquid Web", 29802: "HIVELOCITY", 23470: "ReliableSite",
    53667: "FranTech (BuyVM)", 35916: "MULTACOM", 62904: "Eonix", 25820: "IT7 Networks",
    396356: "Latitude.sh (Maxihost)", 212238: "Datacamp",
    197540: "netcup", 51852: "Private Layer", 43357: "Owl Limited", 202425: "IP Volume",
    49981: "WorldStream", 50673: "Serverius", 58065: "Packet Exchange", 3223: "Voxility",
    25369: "Hydra Communications", 42831: "UK Dedicated Servers", 20860: "Iomart",
    5577: "root SA", 24961: "myLoc", 29066: "velia.net", 197071: "active 1",
    39351: "31173 Services (Mullvad hosting)", 9370: "Sakura Internet", 2516: "KDDI Web",
    4785: "xTom", 3214: "xTom", 21859: "Zenlayer", 135377: "UCloud", 38001: "NewMedia Express",
    59253: "Leaseweb Asia", 64050: "BGPNET (Dedicated)",
}  # fmt: skip
# Transit carriers (Cogent, Lumen) also serve homes and offices: never listed here.
DATACENTER_ASNS: frozenset[int] = frozenset(HOSTING_ASNS)


def is_datacenter(asn: int | None) -> bool:
    return asn is not None and asn in DATACENTER_ASNS
