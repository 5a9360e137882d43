using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace Imagebin.Features.Accounts;

/// <summary>
/// Verification against an external authority (<c>Authority:Mode=External</c>), through what it publishes and nothing
/// else: its RFC 8414 metadata (issuer compared byte for byte), its JWKS (re-read when a token names an unknown key, at
/// most every 30 s) and RFC 7662 introspection with this node's confidential client, whose answers are reused for
/// <see cref="AuthorityOptions.IntrospectionCacheSeconds"/>: a revoked key or token stops working within that time.
/// </summary>
public sealed class RemoteTokenVerifier(
    HttpClient http,
    IOptions<AuthorityOptions> options,
    IMemoryCache cache,
    TimeProvider time,
    ILogger<RemoteTokenVerifier> logger) : ITokenVerifier
{
    private static readonly TimeSpan MetadataLifetime = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan MinKeyRefresh = TimeSpan.FromSeconds(30);

    private readonly SemaphoreSlim _refresh = new(1, 1);
    private Metadata? _metadata;

    private sealed record Metadata(string Issuer, string JwksUri, string IntrospectionEndpoint, IReadOnlyList<SecurityKey> Keys, DateTimeOffset ReadAt);

    public async Task<CredentialVerification> VerifyApiKeyAsync(string key, CancellationToken cancellationToken)
    {
        var (answer, reached) = await IntrospectAsync(key, cancellationToken);
        if (!reached)
        {
            return CredentialVerification.Unavailable;
        }

        if (answer is not { } body || !body.TryGetProperty("sub", out var sub) || sub.ValueKind != JsonValueKind.String)
        {
            return CredentialVerification.Invalid;
        }

        return new CredentialVerification(VerificationOutcome.Valid, new VerifiedCaller(
            sub.GetString()!,
            String(body, "username"),
            String(body, "role") ?? Data.AccountRoles.User,
            (String(body, "scope") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries),
            Audiences(body),
            String(body, "key_id"),
            DpopJkt: null));
    }

    public async Task<CredentialVerification> VerifyAccessTokenAsync(string token, CancellationToken cancellationToken)
    {
        if (!AccessTokenJwt.LooksLikeJwt(token))
        {
            return CredentialVerification.Invalid;
        }

        var metadata = await MetadataAsync(forceKeys: false, cancellationToken);
        if (metadata is null)
        {
            return CredentialVerification.Unavailable;
        }

        var (caller, _, _) = await AccessTokenJwt.ValidateAsync(token, metadata.Issuer, metadata.Keys, time);
        if (caller is null && AccessTokenJwt.KeyId(token) is { } kid && metadata.Keys.All(k => k.KeyId != kid))
        {
            metadata = await MetadataAsync(forceKeys: true, cancellationToken);
            if (metadata is not null)
            {
                (caller, _, _) = await AccessTokenJwt.ValidateAsync(token, metadata.Issuer, metadata.Keys, time);
            }
        }

        if (caller is null)
        {
            return CredentialVerification.Invalid;
        }

        var (answer, reached) = await IntrospectAsync(token, cancellationToken);
        return !reached ? CredentialVerification.Unavailable
            : answer is null ? CredentialVerification.Invalid
            : new CredentialVerification(VerificationOutcome.Valid, caller);
    }

    /// <summary>
    /// The introspection answer when the credential is active, null when inactive; <c>Reached</c> is false when the
    /// authority could not be asked (then nothing is cached, and the caller neither accepts nor refuses).
    /// </summary>
    private async Task<(JsonElement? Answer, bool Reached)> IntrospectAsync(string credential, CancellationToken cancellationToken)
    {
        var cacheKey = "introspection:" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(credential)));
        if (cache.TryGetValue(cacheKey, out JsonElement? cached))
        {
            return (cached, true);
        }

        var metadata = await MetadataAsync(forceKeys: false, cancellationToken);
        if (metadata is null)
        {
            return (null, false);
        }

        var settings = options.Value;
        using var request = new HttpRequestMessage(HttpMethod.Post, metadata.IntrospectionEndpoint)
        {
            Content = new FormUrlEncodedContent([new("token", credential)]),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(
            $"{Uri.EscapeDataString(settings.IntrospectionClientId!)}:{Uri.EscapeDataString(settings.IntrospectionClientSecret!)}")));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        JsonElement body;
        try
        {
            using var response = await http.SendAsync(request, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                logger.LogWarning("The authority answered introspection with {Status}", (int)response.StatusCode);
                return (null, false);
            }

            body = (await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken), cancellationToken: cancellationToken)).RootElement.Clone();
        }
        catch (Exception exception) when (exception is HttpRequestException or JsonException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(exception, "Introspection at the authority failed");
            return (null, false);
        }

        JsonElement? answer = body.TryGetProperty("active", out var active) && active.ValueKind == JsonValueKind.True ? body : null;
        var ttl = TimeSpan.FromSeconds(settings.IntrospectionCacheSeconds);
        if (answer is not null && body.TryGetProperty("exp", out var exp) && exp.TryGetInt64(out var expires))
        {
            var left = DateTimeOffset.FromUnixTimeSeconds(expires) - time.GetUtcNow();
            ttl = left < ttl ? left : ttl;
        }

        if (ttl > TimeSpan.Zero)
        {
            cache.Set(cacheKey, answer, new MemoryCacheEntryOptions { AbsoluteExpirationRelativeToNow = ttl, Size = 1 });
        }

        return (answer, true);
    }

    private async Task<Metadata?> MetadataAsync(bool forceKeys, CancellationToken cancellationToken)
    {
        var current = _metadata;
        var now = time.GetUtcNow();
        if (current is not null && now - current.ReadAt < (forceKeys ? MinKeyRefresh : MetadataLifetime))
        {
            return current;
        }

        await _refresh.WaitAsync(cancellationToken);
        try
        {
            if (_metadata is { } fresh && fresh != current)
            {
                return fresh;
            }

            var issuer = options.Value.Issuer!;
            using var discovery = await GetJsonAsync(MetadataUrl(issuer), cancellationToken);
            var root = discovery.RootElement;
            // RFC 8414 §3.3: the metadata must name exactly the issuer it was fetched for.
            if (String(root, "issuer") != issuer || String(root, "jwks_uri") is not { } jwksUri || String(root, "introspection_endpoint") is not { } introspection)
            {
                logger.LogError("The authority's metadata at {Url} does not match Authority:Issuer {Issuer} or lacks jwks_uri/introspection_endpoint", MetadataUrl(issuer), issuer);
                return current;
            }

            using var jwks = await GetJsonAsync(jwksUri, cancellationToken);
            var keys = new JsonWebKeySet(jwks.RootElement.GetRawText()).GetSigningKeys().ToList();
            _metadata = new Metadata(issuer, jwksUri, introspection, keys, now);
            return _metadata;
        }
        catch (Exception exception) when (exception is HttpRequestException or JsonException or ArgumentException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(exception, "Reading the authority's metadata or keys failed");
            return current;
        }
        finally
        {
            _refresh.Release();
        }
    }

    /// <summary>RFC 8414 §3.1: the well-known suffix goes between the host and the issuer's path.</summary>
    public static string MetadataUrl(string issuer)
    {
        var uri = new Uri(issuer);
        var path = uri.AbsolutePath.TrimEnd('/');
        return $"{uri.GetLeftPart(UriPartial.Authority)}/.well-known/oauth-authorization-server{path}";
    }

    private async Task<JsonDocument> GetJsonAsync(string url, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(url, cancellationToken);
        response.EnsureSuccessStatusCode();
        return await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken), cancellationToken: cancellationToken);
    }

    private static string? String(JsonElement body, string name) =>
        body.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static string[] Audiences(JsonElement body) =>
        !body.TryGetProperty("aud", out var aud) ? []
        : aud.ValueKind == JsonValueKind.String ? [aud.GetString()!]
        : aud.ValueKind == JsonValueKind.Array ? [.. aud.EnumerateArray().Where(a => a.ValueKind == JsonValueKind.String).Select(a => a.GetString()!)]
        : [];
}
