using Imagebin.Infrastructure;

namespace Imagebin.Features.Discovery;

/// <summary>
/// The OpenAPI 3.1 document of the REST API (<c>/api/v1/openapi.json</c>) and its HTML rendering (<c>/docs/api</c>),
/// generated from the endpoints by Microsoft.AspNetCore.OpenApi and completed by <see cref="OpenApiTransformers"/>.
/// </summary>
public static class OpenApiSetup
{
    public const string DocumentName = "v1";
    public const string DocumentPath = "/api/v1/openapi.json";
    public const string ReferencePath = "/docs/api";

    public static WebApplicationBuilder AddOpenApiDocument(this WebApplicationBuilder builder)
    {
        builder.Services.AddOpenApi(DocumentName, options =>
        {
            options.OpenApiVersion = Microsoft.OpenApi.OpenApiSpecVersion.OpenApi3_1;
            OpenApiTransformers.Configure(options);
        });
        builder.Services.AddSingleton<OpenApiDocumentCache>();
        return builder;
    }

    public static IEndpointRouteBuilder MapOpenApiDocument(this IEndpointRouteBuilder app)
    {
        app.MapGet(DocumentPath, ServeAsync).WithTags("Discovery")
            .WithSummary("This OpenAPI 3.1 document")
            .WithDescription("Generated once per process from the endpoints; served with an ETag (answers If-None-Match with 304).");
        app.MapGet(ReferencePath, RenderAsync).ExcludeFromDescription();
        return app;
    }

    private static async Task<IResult> ServeAsync(HttpContext context, OpenApiDocumentCache cache, CancellationToken cancellationToken)
    {
        var document = await cache.GetAsync(cancellationToken);
        context.Response.Headers.CacheControl = "public, max-age=300";
        // A public description: SDK generators and browser tools read it cross-origin.
        context.Response.Headers.AccessControlAllowOrigin = "*";
        return TypedResults.Bytes(document.Json, "application/json", entityTag: document.ETag);
    }

    private static async Task<IResult> RenderAsync(OpenApiDocumentCache cache, CancellationToken cancellationToken) =>
        OpenApiReferencePage.Render(await cache.GetAsync(cancellationToken));
}
