using System.ComponentModel.DataAnnotations;

namespace Imagebin.Infrastructure.Outbound;

/// <summary>Requests to URLs that users give us (<c>Outbound:*</c>): client metadata documents, images imported by URL.</summary>
public sealed class OutboundOptions
{
    public const string Section = "Outbound";

    /// <summary>The whole exchange, from resolving the name to the last byte of the body.</summary>
    [Range(1, 120)]
    public int TimeoutSeconds { get; set; } = 5;

    /// <summary>
    /// Lets requests reach loopback, private, link-local and other non-public addresses. Only for tests and for operators
    /// whose clients really live on a private network: on a public server it hands every user a way into the internal
    /// network and the cloud metadata service (169.254.169.254). Never turn it on in production.
    /// </summary>
    public bool AllowPrivateAddresses { get; set; }

    /// <summary>Allows plain <c>http://</c> URLs besides <c>https://</c>.</summary>
    public bool AllowHttp { get; set; }
}
