using System.Net;
using System.Net.Sockets;

namespace Imagebin.Infrastructure.Outbound;

/// <summary>Which IP addresses a request to a user-given URL may reach: the public internet's, nothing else.</summary>
public static class PublicAddresses
{
    // IANA's special-purpose registry, the parts that are not globally reachable (RFC 6890 and successors).
    private static readonly IPNetwork[] RefusedV4 =
    [
        IPNetwork.Parse("0.0.0.0/8"),        // "this network", 0.0.0.0 included
        IPNetwork.Parse("10.0.0.0/8"),       // private
        IPNetwork.Parse("100.64.0.0/10"),    // carrier-grade NAT
        IPNetwork.Parse("127.0.0.0/8"),      // loopback
        IPNetwork.Parse("169.254.0.0/16"),   // link-local, where cloud metadata services (169.254.169.254) answer
        IPNetwork.Parse("172.16.0.0/12"),    // private
        IPNetwork.Parse("192.0.0.0/24"),     // IETF protocol assignments
        IPNetwork.Parse("192.0.2.0/24"),     // documentation
        IPNetwork.Parse("192.88.99.0/24"),   // 6to4 relay anycast (deprecated)
        IPNetwork.Parse("192.168.0.0/16"),   // private
        IPNetwork.Parse("198.18.0.0/15"),    // benchmarking
        IPNetwork.Parse("198.51.100.0/24"),  // documentation
        IPNetwork.Parse("203.0.113.0/24"),   // documentation
        IPNetwork.Parse("224.0.0.0/4"),      // multicast
        IPNetwork.Parse("240.0.0.0/4"),      // reserved, 255.255.255.255 included
    ];

    // Everything outside 2000::/3 (global unicast) is refused outright: ::, ::1, IPv4-compatible ::/96, fc00::/7 (unique
    // local), fe80::/10 (link-local), fec0::/10 (site-local), ff00::/8 (multicast), 64:ff9b:1::/48 (local NAT64).
    private static readonly IPNetwork GlobalUnicast = IPNetwork.Parse("2000::/3");

    private static readonly IPNetwork[] RefusedV6 =
    [
        IPNetwork.Parse("2001::/23"),        // IETF protocol assignments: Teredo, benchmarking, ORCHID
        IPNetwork.Parse("2001:db8::/32"),    // documentation
        IPNetwork.Parse("3fff::/20"),        // documentation
    ];

    // Addresses that carry an IPv4 address, which the network may translate to it: judged by that address.
    private static readonly IPNetwork Nat64 = IPNetwork.Parse("64:ff9b::/96");
    private static readonly IPNetwork SixToFour = IPNetwork.Parse("2002::/16");

    /// <summary>
    /// True for a globally reachable unicast address. False for loopback, private, link-local, carrier-grade NAT,
    /// unspecified, broadcast, multicast, reserved, documentation and benchmarking ranges, IPv6 unique-local and site-local,
    /// and for IPv4-mapped, NAT64 (64:ff9b::/96) and 6to4 addresses of any such IPv4 address.
    /// </summary>
    public static bool IsPublic(IPAddress address)
    {
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            return !Array.Exists(RefusedV4, network => network.Contains(address));
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return false;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            return IsPublic(address.MapToIPv4());
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        if (Nat64.Contains(address))
        {
            return IsPublic(new IPAddress(bytes[12..]));
        }

        if (SixToFour.Contains(address))
        {
            return IsPublic(new IPAddress(bytes[2..6]));
        }

        return GlobalUnicast.Contains(address) && !Array.Exists(RefusedV6, network => network.Contains(address));
    }
}
