using System.Text.Json;
using Imagebin.Features.Accounts;
using Imagebin.Infrastructure;
using Imagebin.Infrastructure.Outbound;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace Imagebin.Features.Mcp;

/// <summary>The MCP server at <c>/mcp</c> (DESIGN.md §11): Streamable HTTP, stateless, POST only, behind the API's credentials.</summary>
public static class McpSetup
{
    /// <summary>The scope each tool needs: the same as the REST operation it mirrors (PATCH needs image:create).</summary>
    public static readonly IReadOnlyDictionary<string, string> ToolScopes = new Dictionary<string, string>
    {
        [ImageTools.Upload] = Scopes.ImageCreate,
        [ImageTools.Get] = Scopes.ImageRead,
        [ImageTools.List] = Scopes.ImageRead,
        [ImageTools.Update] = Scopes.ImageCreate,
        [ImageTools.Delete] = Scopes.ImageDelete,
    };

    /// <summary>Tool arguments and output schemas in snake_case, like the REST contract.</summary>
    internal static readonly JsonSerializerOptions ToolJson = new(McpJsonUtilities.DefaultOptions)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    };

    public static WebApplicationBuilder AddMcp(this WebApplicationBuilder builder)
    {
        builder.Services.AddGuardedHttp();
        builder.Services
            .AddMcpServer(options =>
            {
                options.ServerInfo = new Implementation { Name = "imagebin", Title = "Imagebin", Version = typeof(McpSetup).Assembly.GetName().Version?.ToString() ?? "1.0" };
                options.ServerInstructions = "Upload, find, edit and delete your images on this Imagebin site. Results carry the same Item JSON as the REST API.";
            })
            .WithHttpTransport(transport => transport.Stateless = true)
            .WithTools<ImageTools>(ToolJson)
            .WithRequestFilters(filters => filters.AddListToolsFilter(next => async (context, cancellationToken) =>
            {
                // The caller sees only what it may call; McpGate refuses the rest with a 403 before the SDK runs.
                var result = await next(context, cancellationToken);
                var user = context.User;
                result.Tools = [.. result.Tools.Where(tool => user is not null && ToolScopes.TryGetValue(tool.Name, out var scope) && user.HasScope(scope))];
                return result;
            }));
        return builder;
    }

    public static WebApplication MapMcpEndpoint(this WebApplication app)
    {
        app.UseWhen(context => context.Request.Path.StartsWithSegments(BearerChallenge.McpPath, StringComparison.OrdinalIgnoreCase), McpGate.Use);
        app.MapMcp(BearerChallenge.McpPath);
        return app;
    }
}
