using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace Imagebin.Infrastructure;

/// <summary>The absolute URLs this site hands out, resolved once from <see cref="ImagebinOptions"/> or the listen address.</summary>
public sealed class SiteUrls(IOptions<ImagebinOptions> options, IServer server, IConfiguration configuration)
{
    private string? _publicBase;
    private string? _directBase;

    /// <summary>The site's origin without a trailing slash; also the audience API keys must be bound to.</summary>
    public string PublicBase => _publicBase ??= Normalize(options.Value.PublicBaseUrl ?? FirstListenUrl());

    public string DirectBase => _directBase ??= Normalize(options.Value.DirectBaseUrl ?? PublicBase + "/i");

    /// <summary>The path under which direct bytes are routed on this host, e.g. <c>/i</c>.</summary>
    public string DirectPath => new Uri(DirectBase).AbsolutePath.TrimEnd('/');

    public string Short(string id, string? secret) => WithSecret($"{PublicBase}/{id}", secret);

    public string View(string id, string? secret) => WithSecret($"{PublicBase}/v/{id}", secret);

    public string Direct(string id, string extension, string? secret) => WithSecret($"{DirectBase}/{id}.{extension}", secret);

    /// <summary>
    /// An item's variant <paramref name="width"/> pixels wide (one of the fixed widths), in its own format; a private item's
    /// carries its share secret as its direct URL does.
    /// </summary>
    public string Variant(string id, string extension, int width, string? secret = null) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Direct(id, extension, secret)}{(secret is null ? '?' : '&')}w={width}");

    /// <summary>A variant's URL from the item's <paramref name="directUrl"/> (as the Item gives it, with or without <c>?s=</c>).</summary>
    public static string VariantOf(string directUrl, int width) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{directUrl}{(directUrl.Contains('?', StringComparison.Ordinal) ? '&' : '?')}w={width}");

    public static string Normalize(string url)
    {
        var uri = new Uri(url, UriKind.Absolute);
        var path = uri.AbsolutePath.TrimEnd('/');
        var port = uri.IsDefaultPort ? "" : $":{uri.Port}";
        return $"{uri.Scheme}://{uri.Host.ToLowerInvariant()}{port}{path}";
    }

    private static string WithSecret(string url, string? secret) => secret is null ? url : $"{url}?s={secret}";

    private string FirstListenUrl()
    {
        // Admin commands run without starting the server; they read the same setting the server would listen on.
        var address = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
            ?? configuration["urls"]?.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault()
            ?? HostSetup.DefaultUrl;
        // Kestrel reports wildcard hosts as given; a link must name a host a browser can reach.
        return address.Replace("://+", "://localhost").Replace("://*", "://localhost").Replace("://[::]", "://localhost")
            .Replace("://0.0.0.0", "://localhost");
    }
}
