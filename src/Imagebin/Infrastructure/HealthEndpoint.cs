using Imagebin.Data;
using Imagebin.Storage;
using Microsoft.EntityFrameworkCore;

namespace Imagebin.Infrastructure;

/// <summary>
/// <c>GET /healthz</c> for load balancers and orchestration: 200 when this node reaches its metadata store and blob
/// store, 503 otherwise. Mapped on every node, whatever its roles, and never cached.
/// </summary>
public static class HealthEndpoint
{
    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", async (ImagebinDb db, IBlobStore store, HttpContext context, CancellationToken cancellationToken) =>
        {
            context.Response.Headers.CacheControl = "no-store";
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            var database = await CheckAsync(() => db.Database.CanConnectAsync(timeout.Token));
            var blobs = await CheckAsync(() => store.IsHealthyAsync(timeout.Token));
            var roles = context.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<ImagebinOptions>>().Value.Roles;
            var body = new Dictionary<string, string>
            {
                ["status"] = database && blobs ? "ok" : "unavailable",
                ["database"] = database ? "ok" : "unreachable",
                ["blob_store"] = blobs ? "ok" : "unreachable",
                ["roles"] = roles,
            };
            return Results.Json(body, statusCode: database && blobs ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        }).ExcludeFromDescription();
        return app;
    }

    private static async Task<bool> CheckAsync(Func<Task<bool>> check)
    {
        try
        {
            return await check();
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            return false;
        }
    }
}
