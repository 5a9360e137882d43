using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using Microsoft.Extensions.Options;

namespace Imagebin.Infrastructure.Outbound;

/// <summary>What a guarded GET answered; <see cref="Body"/> is read (within the limit) only for a 2xx status.</summary>
public sealed record OutboundResponse(HttpStatusCode StatusCode, HttpResponseHeaders Headers, HttpContentHeaders ContentHeaders, byte[] Body);

/// <summary>
/// The one way to request a URL a user gave us, guarded against server-side request forgery. The URL must be absolute,
/// https (http only with <see cref="OutboundOptions.AllowHttp"/>), without user name, password or fragment, and an IP
/// literal in it must be public. Names are resolved here, in the connection callback, and only the resolved addresses that
/// are public are connected to, so a name cannot resolve to a public address when checked and to a private one when
/// connected (DNS rebinding). Redirects are not followed, no proxy, cookies or decompression are used, the whole exchange
/// has one deadline and bodies are read up to a limit. Every failure is an <see cref="OutboundException"/> with a short reason.
/// </summary>
public sealed class GuardedHttp : IDisposable
{
    private readonly OutboundOptions _options;
    private readonly HttpClient _client;

    public GuardedHttp(IOptions<OutboundOptions> options)
        : this(options.Value, certificateValidation: null)
    {
    }

    /// <param name="certificateValidation">
    /// For tests, which serve https with a certificate they made; null (always, outside tests) keeps the platform's validation.
    /// </param>
    internal GuardedHttp(OutboundOptions options, RemoteCertificateValidationCallback? certificateValidation)
    {
        _options = options;
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseProxy = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
            // In KiB; a metadata document or an image needs few headers, a hostile server should not send us megabytes.
            MaxResponseHeadersLength = 16,
            PooledConnectionLifetime = TimeSpan.FromMinutes(1),
            ConnectCallback = ConnectAsync,
        };
        if (certificateValidation is not null)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = certificateValidation;
        }

        _client = new HttpClient(handler) { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
        _client.DefaultRequestHeaders.UserAgent.ParseAdd("Imagebin");
    }

    public TimeSpan Timeout => TimeSpan.FromSeconds(_options.TimeoutSeconds);

    /// <summary>Why <paramref name="url"/> may not be requested, or null when it may; decided without any network.</summary>
    public string? RefuseUrl(Uri url)
    {
        if (!url.IsAbsoluteUri)
        {
            return "the URL is not absolute";
        }

        if (url.Scheme != Uri.UriSchemeHttps && !(_options.AllowHttp && url.Scheme == Uri.UriSchemeHttp))
        {
            return _options.AllowHttp ? "only http and https URLs are fetched" : "only https URLs are fetched";
        }

        if (url.UserInfo.Length > 0)
        {
            return "URLs with a user name or password are not fetched";
        }

        if (url.Fragment.Length > 0 || url.OriginalString.Contains('#'))
        {
            return "URLs with a fragment are not fetched";
        }

        if (url.HostNameType is UriHostNameType.IPv4 or UriHostNameType.IPv6 && !_options.AllowPrivateAddresses
            && !(TryParseAddress(url.Host, out var literal) && PublicAddresses.IsPublic(literal)))
        {
            return $"the address {url.Host} is not public";
        }

        return null;
    }

    /// <summary>
    /// GETs <paramref name="url"/> asking for <paramref name="accept"/>. A 3xx is refused ("redirects are not followed"); any
    /// other status is returned, with the body read only for a 2xx and refused past <paramref name="maxBytes"/>.
    /// </summary>
    /// <exception cref="OutboundException">The URL or its address was refused, the limit or the deadline passed, or the request failed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<OutboundResponse> GetAsync(Uri url, string accept, int maxBytes, CancellationToken cancellationToken)
    {
        if (RefuseUrl(url) is { } reason)
        {
            throw new OutboundException(reason);
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(Timeout);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.Accept.ParseAdd(accept);
            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
            if ((int)response.StatusCode is >= 300 and < 400)
            {
                throw new OutboundException("redirects are not followed");
            }

            var body = response.IsSuccessStatusCode ? await ReadBodyAsync(response.Content, maxBytes, deadline.Token) : [];
            return new OutboundResponse(response.StatusCode, response.Headers, response.Content.Headers, body);
        }
        catch (Exception exception) when (exception is not OutboundException
            && deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new OutboundException($"timed out after {_options.TimeoutSeconds} s", exception);
        }
        catch (HttpRequestException exception)
        {
            throw Explain(exception, url);
        }
        catch (IOException exception)
        {
            throw new OutboundException("the connection broke while reading the response", exception);
        }
    }

    /// <summary>
    /// The body, refused as soon as it is longer than <paramref name="maxBytes"/>: at once when <c>Content-Length</c> says
    /// so, otherwise (chunked, or a length that lies) after reading at most one byte past the limit.
    /// </summary>
    /// <exception cref="OutboundException">The body is larger than <paramref name="maxBytes"/>.</exception>
    public static async Task<byte[]> ReadBodyAsync(HttpContent content, int maxBytes, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
        if (content.Headers.ContentLength > maxBytes)
        {
            throw new OutboundException(TooLarge(maxBytes)) { IsTooLarge = true };
        }

        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        using var body = new MemoryStream();
        var chunk = new byte[Math.Min(maxBytes + 1, 16 * 1024)];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (body.Length + read > maxBytes)
            {
                throw new OutboundException(TooLarge(maxBytes)) { IsTooLarge = true };
            }

            body.Write(chunk, 0, read);
        }

        return body.ToArray();
    }

    public void Dispose() => _client.Dispose();

    private static string TooLarge(int maxBytes) => maxBytes switch
    {
        >= 1024 * 1024 when maxBytes % (1024 * 1024) == 0 => $"larger than {maxBytes / (1024 * 1024)} MiB",
        >= 1024 when maxBytes % 1024 == 0 => $"larger than {maxBytes / 1024} KiB",
        _ => $"larger than {maxBytes} bytes",
    };

    private static bool TryParseAddress(string host, out IPAddress address) =>
        IPAddress.TryParse(host.AsSpan().Trim("[]"), out address!);

    private static OutboundException Explain(HttpRequestException exception, Uri url)
    {
        for (Exception? inner = exception; inner is not null; inner = inner.InnerException)
        {
            if (inner is OutboundException refusal)
            {
                return refusal;
            }
        }

        var reason = exception.HttpRequestError switch
        {
            HttpRequestError.NameResolutionError => $"the host name {url.Host} does not resolve",
            HttpRequestError.ConnectionError => $"could not connect to {url.Authority}",
            HttpRequestError.SecureConnectionError => $"the TLS handshake with {url.Authority} failed",
            HttpRequestError.ConfigurationLimitExceeded => "the response headers are too large",
            HttpRequestError.HttpProtocolError or HttpRequestError.InvalidResponse or HttpRequestError.ResponseEnded =>
                "the answer is not valid HTTP",
            _ => "the request failed",
        };
        return new OutboundException(reason, exception);
    }

    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var host = context.DnsEndPoint.Host;
        IPAddress[] addresses;
        if (TryParseAddress(host, out var literal))
        {
            addresses = [literal];
        }
        else
        {
            try
            {
                addresses = await Dns.GetHostAddressesAsync(host, cancellationToken);
            }
            catch (SocketException exception)
            {
                throw new OutboundException($"the host name {host} does not resolve", exception);
            }
        }

        var allowed = _options.AllowPrivateAddresses ? addresses : Array.FindAll(addresses, PublicAddresses.IsPublic);
        if (allowed.Length == 0)
        {
            throw new OutboundException(addresses.Length == 0
                ? $"the host name {host} does not resolve"
                : $"the address {addresses[0]} is not public");
        }

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(allowed, context.DnsEndPoint.Port, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
