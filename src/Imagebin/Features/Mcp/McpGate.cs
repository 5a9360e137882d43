using System.Text.Json;
using Imagebin.Features.Accounts;
using Imagebin.Infrastructure;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace Imagebin.Features.Mcp;

/// <summary>
/// What the SDK does not decide the way the contract wants, answered before it runs and in the API's error shape: a foreign
/// <c>Origin</c> (403), any method but POST (405), no credentials (401 with the <c>/mcp</c> metadata), an unsupported
/// <c>MCP-Protocol-Version</c> (400), and a <c>tools/call</c> of a tool whose scope the caller lacks (403
/// <c>insufficient_scope</c>, an HTTP challenge a client can act on rather than a JSON-RPC error).
/// </summary>
public static class McpGate
{
    /// <summary>The revisions the SDK (2.4) speaks.</summary>
    public static readonly string[] ProtocolVersions = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"];

    public static void Use(IApplicationBuilder branch) => branch.Use(InvokeAsync);

    private static async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var request = context.Request;
        var site = context.RequestServices.GetRequiredService<SiteUrls>();
        if (request.Headers.Origin is [{ } origin] && !IsSameOrigin(origin, site.PublicBase) || request.Headers.Origin.Count > 1)
        {
            await new ApiError(ErrorCodes.Forbidden, "Requests from another origin are not accepted at /mcp.").WriteAsync(context);
            return;
        }

        if (!HttpMethods.IsPost(request.Method))
        {
            context.Response.Headers.Allow = "POST";
            await new ApiError(ErrorCodes.MethodNotAllowed, "This MCP server is stateless: send JSON-RPC messages with POST.").WriteAsync(context);
            return;
        }

        if (context.User.AccountId() is null)
        {
            await new ApiError(ErrorCodes.AuthRequired, "Send an API key or an access token for this MCP endpoint: Authorization: Bearer …").WriteAsync(context);
            return;
        }

        if (request.Headers["MCP-Protocol-Version"] is { Count: > 0 } version && !ProtocolVersions.Contains(version.ToString()))
        {
            await new ApiError(ErrorCodes.InvalidRequest,
                $"Unsupported MCP-Protocol-Version '{Shorten(version.ToString())}'; supported: {string.Join(", ", ProtocolVersions)}.").WriteAsync(context);
            return;
        }

        // A base64 image is a third larger than the image; the rest of the message is small.
        var limit = context.RequestServices.GetRequiredService<IOptions<LimitsOptions>>().Value.MaxUploadBytes;
        var maxBody = (limit + 2) / 3 * 4 + 1024 * 1024;
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature)
        {
            sizeFeature.MaxRequestBodySize = maxBody;
        }

        if (request.ContentLength > maxBody)
        {
            await TooLarge(limit).WriteAsync(context);
            return;
        }

        request.EnableBuffering(bufferThreshold: 64 * 1024);
        var body = await ReadBoundedAsync(request.Body, maxBody, context.RequestAborted);
        if (body is null)
        {
            await TooLarge(limit).WriteAsync(context);
            return;
        }

        request.Body.Position = 0;
        if (MissingScope(body, context) is { } scope)
        {
            await new ApiError(ErrorCodes.InsufficientScope, $"This tool needs the '{scope}' scope.") { Scope = scope }.WriteAsync(context);
            return;
        }

        await next(context);
    }

    /// <summary>The scope a <c>tools/call</c> in the message (or batch) needs and the caller lacks; null when none is missing or the body is not JSON (the SDK answers that).</summary>
    private static string? MissingScope(byte[] body, HttpContext context)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException)
        {
            return null;
        }

        using (document)
        {
            var messages = document.RootElement.ValueKind == JsonValueKind.Array
                ? document.RootElement.EnumerateArray().ToList()
                : [document.RootElement];
            foreach (var message in messages)
            {
                if (message.ValueKind == JsonValueKind.Object
                    && message.TryGetProperty("method", out var method) && method.ValueKind == JsonValueKind.String && method.GetString() == "tools/call"
                    && message.TryGetProperty("params", out var parameters) && parameters.ValueKind == JsonValueKind.Object
                    && parameters.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String
                    && McpSetup.ToolScopes.TryGetValue(name.GetString()!, out var scope) && !context.User.HasScope(scope))
                {
                    return scope;
                }
            }
        }

        return null;
    }

    private static async Task<byte[]?> ReadBoundedAsync(Stream body, long max, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[64 * 1024];
        int read;
        while ((read = await body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > max)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    private static bool IsSameOrigin(string origin, string publicBase) =>
        Uri.TryCreate(origin, UriKind.Absolute, out var given)
        && string.Equals(given.GetLeftPart(UriPartial.Authority), new Uri(publicBase).GetLeftPart(UriPartial.Authority), StringComparison.OrdinalIgnoreCase);

    private static ApiError TooLarge(long limit) =>
        new(ErrorCodes.RequestTooLarge, $"The message is larger than an image of the upload limit ({limit:N0} bytes) would make.");

    private static string Shorten(string value) => value.Length > 40 ? value[..40] + "…" : value;
}
