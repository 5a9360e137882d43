using System.Text;
using System.Text.Json.Nodes;
using Imagebin.Features.Accounts;
using OpenIddict.Abstractions;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Imagebin.Features.Authority;

/// <summary>
/// RFC 7662 introspection of <c>pbca_live_</c> API keys at the authority's introspection endpoint, beside OpenIddict's
/// introspection of its own tokens: resource servers in External mode check keys the same way they check tokens.
/// The caller must be a confidential client with the introspection permission; an unknown, revoked, expired or
/// banned key is <c>{"active": false}</c>.
/// </summary>
public sealed class ApiKeyIntrospection(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext context, IOpenIddictApplicationManager applications, ApiKeys keys)
    {
        if (!HttpMethods.IsPost(context.Request.Method) || context.Request.Path != AuthoritySetup.IntrospectPath || !context.Request.HasFormContentType)
        {
            await next(context);
            return;
        }

        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        var token = form["token"].ToString();
        if (!token.StartsWith(ApiKeys.Prefix, StringComparison.Ordinal))
        {
            await next(context);
            return;
        }

        context.Response.Headers.CacheControl = "no-store";
        var (clientId, secret) = ClientCredentials(context, form);
        var client = clientId is null ? null : await applications.FindByClientIdAsync(clientId, context.RequestAborted);
        if (client is null || secret is null
            || !await applications.HasClientTypeAsync(client, ClientTypes.Confidential, context.RequestAborted)
            || !await applications.ValidateClientSecretAsync(client, secret, context.RequestAborted))
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            context.Response.Headers.WWWAuthenticate = "Basic realm=\"introspection\"";
            await context.Response.WriteAsJsonAsync(new JsonObject { ["error"] = Errors.InvalidClient }, context.RequestAborted);
            return;
        }

        if (!await applications.HasPermissionAsync(client, Permissions.Endpoints.Introspection, context.RequestAborted))
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsJsonAsync(new JsonObject { ["error"] = Errors.UnauthorizedClient }, context.RequestAborted);
            return;
        }

        var verification = await keys.VerifyAsync(token, context.RequestAborted);
        var body = new JsonObject { ["active"] = false };
        if (verification.Outcome == ApiKeys.Outcome.Valid)
        {
            var key = verification.Key!;
            body = new JsonObject
            {
                ["active"] = true,
                ["token_type"] = "pbca_live",
                ["scope"] = key.Scopes,
                ["sub"] = key.AccountId,
                ["username"] = verification.Account!.Name,
                ["role"] = verification.Account.Role,
                ["aud"] = key.Audience,
                ["iat"] = key.CreatedAt / 1000,
                ["key_id"] = key.Id,
            };
            if (key.ExpiresAt is { } expires)
            {
                body["exp"] = expires / 1000;
            }
        }

        await context.Response.WriteAsJsonAsync(body, context.RequestAborted);
    }

    /// <summary>client_secret_basic (RFC 6749 §2.3.1: both parts form-url-encoded) or client_secret_post.</summary>
    private static (string? Id, string? Secret) ClientCredentials(HttpContext context, IFormCollection form)
    {
        string? header = context.Request.Headers.Authorization;
        if (header is not null && header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header[6..].Trim()));
                var colon = decoded.IndexOf(':');
                return colon < 0 ? (null, null) : (Uri.UnescapeDataString(decoded[..colon].Replace('+', ' ')), Uri.UnescapeDataString(decoded[(colon + 1)..].Replace('+', ' ')));
            }
            catch (FormatException)
            {
                return (null, null);
            }
        }

        return (form["client_id"].FirstOrDefault(), form["client_secret"].FirstOrDefault());
    }
}
