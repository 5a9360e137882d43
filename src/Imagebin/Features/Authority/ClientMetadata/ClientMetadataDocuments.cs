using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Imagebin.Infrastructure.Outbound;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

namespace Imagebin.Features.Authority;

/// <summary>
/// OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; the MCP authorization spec's "client
/// ID metadata documents"): a client_id that is an https URL names a JSON document of the client's metadata, fetched here
/// through <see cref="GuardedHttp"/>, validated, and cached in memory for its <c>max-age</c> (within bounds). Refusals
/// are cached briefly too, so a hostile client_id cannot make us fetch in a loop.
/// </summary>
public sealed class ClientMetadataDocuments(
    GuardedHttp http, IMemoryCache cache, IOptions<ClientMetadataOptions> options, ILogger<ClientMetadataDocuments> logger)
{
    /// <summary>The shortest time a document is kept, whatever its <c>Cache-Control</c> says (<c>no-store</c> included).</summary>
    public const int MinCacheSeconds = 60;

    /// <summary>How long a refusal (after a fetch was tried) is kept.</summary>
    public static readonly TimeSpan FailureCacheTime = TimeSpan.FromSeconds(30);

    private const int MaxClientIdLength = 2000;
    private const int MaxClientNameLength = 200;
    private static readonly string[] AcceptedGrantTypes = ["authorization_code", "refresh_token"];
    private static readonly string[] AcceptedResponseTypes = ["code"];

    /// <summary>The validated metadata of the client whose client_id is <paramref name="clientIdUrl"/>, or why it is refused.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (nothing is cached then).</exception>
    public async Task<ClientMetadataResult> GetAsync(string clientIdUrl, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (!settings.Enabled)
        {
            return ClientMetadataResult.Failure("client metadata documents are not accepted here");
        }

        if (RefuseClientId(clientIdUrl) is { } refusal)
        {
            return ClientMetadataResult.Failure(refusal);
        }

        var key = (typeof(ClientMetadataDocuments), clientIdUrl);
        if (cache.TryGetValue(key, out ClientMetadataResult? cached) && cached is not null)
        {
            return cached;
        }

        var (result, lifetime) = await FetchAsync(clientIdUrl, settings, cancellationToken);
        if (!result.Succeeded)
        {
            logger.LogInformation("Client metadata document {ClientId} refused: {Reason}", clientIdUrl, result.Error);
        }

        cache.Set(key, result, lifetime);
        return result;
    }

    /// <summary>
    /// Why a client_id cannot be a metadata document URL, or null: an https URL in normal form (as <see cref="Uri.AbsoluteUri"/>
    /// writes it, so what we fetch is what the document must name) with a path, no dot segments, user name, password or fragment.
    /// </summary>
    internal static string? RefuseClientId(string clientId)
    {
        if (clientId.Length > MaxClientIdLength)
        {
            return "the client_id URL is too long";
        }

        if (!clientId.StartsWith("https://", StringComparison.Ordinal) || !Uri.TryCreate(clientId, UriKind.Absolute, out var url))
        {
            return "the client_id is not an https URL";
        }

        if (clientId.Contains('#'))
        {
            return "the client_id URL has a fragment";
        }

        var afterScheme = clientId.AsSpan("https://".Length);
        var authorityEnd = afterScheme.IndexOfAny('/', '?');
        if (url.UserInfo.Length > 0 || (authorityEnd >= 0 ? afterScheme[..authorityEnd] : afterScheme).Contains('@'))
        {
            return "the client_id URL has a user name or password";
        }

        var path = authorityEnd >= 0 ? afterScheme[authorityEnd..] : [];
        path = path.IndexOf('?') is var query and >= 0 ? path[..query] : path;
        if (path.Length <= 1)
        {
            return "the client_id URL has no path";
        }

        foreach (var segment in path[1..].ToString().Split('/'))
        {
            if (segment.Replace("%2e", ".", StringComparison.OrdinalIgnoreCase) is "." or "..")
            {
                return "the client_id URL has a dot segment";
            }
        }

        if (!string.Equals(url.AbsoluteUri, clientId, StringComparison.Ordinal))
        {
            return $"the client_id URL is not in normal form ({url.AbsoluteUri})";
        }

        return null;
    }

    /// <summary>How long a fetched document is kept: its <c>max-age</c>, else the default, within [1 minute, the maximum].</summary>
    internal static TimeSpan CacheTime(CacheControlHeaderValue? cacheControl, ClientMetadataOptions settings)
    {
        var seconds = cacheControl switch
        {
            { NoStore: true } or { NoCache: true } => MinCacheSeconds,
            { MaxAge: { } maxAge } => maxAge.TotalSeconds,
            _ => settings.DefaultCacheSeconds,
        };
        return TimeSpan.FromSeconds(Math.Clamp(seconds, MinCacheSeconds, settings.MaxCacheSeconds));
    }

    private async Task<(ClientMetadataResult Result, TimeSpan Lifetime)> FetchAsync(
        string clientIdUrl, ClientMetadataOptions settings, CancellationToken cancellationToken)
    {
        OutboundResponse response;
        try
        {
            response = await http.GetAsync(new Uri(clientIdUrl), "application/json", settings.MaxBytes, cancellationToken);
        }
        catch (OutboundException exception)
        {
            return (Refused(exception.Message), FailureCacheTime);
        }

        if (response.StatusCode != HttpStatusCode.OK)
        {
            return (Refused($"its URL answered HTTP {(int)response.StatusCode}"), FailureCacheTime);
        }

        if (!IsJson(response.ContentHeaders.ContentType))
        {
            return (Refused("it is not served as application/json"), FailureCacheTime);
        }

        var result = Parse(clientIdUrl, response.Body);
        return (result, result.Succeeded ? CacheTime(response.Headers.CacheControl, settings) : FailureCacheTime);
    }

    private static bool IsJson(MediaTypeHeaderValue? contentType) =>
        contentType?.MediaType is { } mediaType
        && (mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || (mediaType.StartsWith("application/", StringComparison.OrdinalIgnoreCase) && mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase)));

    private static ClientMetadataResult Refused(string reason) => ClientMetadataResult.Failure($"the client metadata document was refused: {reason}");

    // Nothing the document says is echoed in a reason: it is the client's text, and reasons are shown to users.
    private static ClientMetadataResult Parse(string clientIdUrl, byte[] body)
    {
        JsonDocument document;
        try
        {
            // Duplicate members are refused: two client_ids (or two redirect_uris) would be read differently by other parsers.
            document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 8, AllowDuplicateProperties = false });
        }
        catch (JsonException)
        {
            return Refused("it is not valid JSON");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return Refused("it is not a JSON object");
            }

            foreach (var member in root.EnumerateObject())
            {
                if (member.Name.StartsWith("client_secret", StringComparison.Ordinal))
                {
                    return Refused($"it has {member.Name}, and only public clients may use a metadata document");
                }
            }

            if (!TryGetString(root, "client_id", out var clientId) || clientId is null)
            {
                return Refused("client_id is missing or not a string");
            }

            if (!string.Equals(clientId, clientIdUrl, StringComparison.Ordinal))
            {
                return Refused("its client_id is not exactly the URL it was fetched from");
            }

            if (!TryGetString(root, "token_endpoint_auth_method", out var authMethod) || authMethod is not (null or "none"))
            {
                return Refused("token_endpoint_auth_method must be none (absent) for a public client");
            }

            if (!TryGetStrings(root, "redirect_uris", out var redirectUris) || redirectUris is null or { Count: 0 })
            {
                return Refused("redirect_uris must be a non-empty array of strings");
            }

            for (var i = 0; i < redirectUris.Count; i++)
            {
                if (!RedirectUriRules.IsAcceptable(redirectUris[i]))
                {
                    return Refused($"redirect_uris[{i}] is not an acceptable redirect URI");
                }
            }

            if (!TryGetStrings(root, "grant_types", out var grantTypes)
                || grantTypes is not null && (!grantTypes.All(AcceptedGrantTypes.Contains) || !grantTypes.Contains("authorization_code")))
            {
                return Refused("grant_types must include authorization_code and may add only refresh_token");
            }

            if (!TryGetStrings(root, "response_types", out var responseTypes)
                || responseTypes is not null && (responseTypes.Count == 0 || !responseTypes.All(AcceptedResponseTypes.Contains)))
            {
                return Refused("response_types may only be [\"code\"]");
            }

            if (!TryGetString(root, "client_name", out var clientName) || clientName?.Length > MaxClientNameLength)
            {
                return Refused($"client_name must be a string of at most {MaxClientNameLength} characters");
            }

            if (!TryGetString(root, "client_uri", out var clientUri) || clientUri is not null && !IsWebUrl(clientUri))
            {
                return Refused("client_uri must be an https URL");
            }

            if (!TryGetString(root, "logo_uri", out var logoUri) || logoUri is not null && !IsWebUrl(logoUri))
            {
                return Refused("logo_uri must be an https URL");
            }

            return ClientMetadataResult.Success(new ClientMetadata(
                clientId,
                clientName,
                clientUri,
                logoUri,
                redirectUris,
                grantTypes ?? ["authorization_code"],
                responseTypes ?? ["code"],
                "none"));
        }
    }

    // Links shown on the consent page: https only, so never javascript: or data:.
    private static bool IsWebUrl(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var url) && url.Scheme == Uri.UriSchemeHttps && url.UserInfo.Length == 0
        && value.Length <= MaxClientIdLength;

    /// <summary>False when the member is there but not a string; <paramref name="value"/> is null when it is absent.</summary>
    private static bool TryGetString(JsonElement root, string name, out string? value)
    {
        value = null;
        if (!root.TryGetProperty(name, out var member))
        {
            return true;
        }

        if (member.ValueKind != JsonValueKind.String)
        {
            return false;
        }

        value = member.GetString();
        return true;
    }

    /// <summary>False when the member is there but not an array of strings; <paramref name="values"/> is null when it is absent.</summary>
    private static bool TryGetStrings(JsonElement root, string name, out IReadOnlyList<string>? values)
    {
        values = null;
        if (!root.TryGetProperty(name, out var member))
        {
            return true;
        }

        if (member.ValueKind != JsonValueKind.Array || member.EnumerateArray().Any(item => item.ValueKind != JsonValueKind.String))
        {
            return false;
        }

        values = [.. member.EnumerateArray().Select(item => item.GetString()!)];
        return true;
    }
}
