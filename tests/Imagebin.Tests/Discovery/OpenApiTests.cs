using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Imagebin.Infrastructure;
using Imagebin.Tests.Support;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Imagebin.Tests.Discovery;

public sealed partial class OpenApiTests
{
    private static readonly string[] Methods = ["get", "put", "post", "delete", "patch", "head", "options", "trace"];

    /// <summary>
    /// Routes the document leaves out on purpose (README.md, "OpenAPI"): HTML pages, OpenIddict's own endpoints, the
    /// sign-in pages, the health check, the pages' stylesheet and scripts, the delete page, and the MCP endpoint and documentation pages, which describe
    /// themselves.
    /// </summary>
    private static readonly string[] Excluded =
    [
        "GET /", "GET /v/{id}", "GET /healthz", "GET /docs/api", "GET /static/{file}", "GET /delete/{id}",
        "GET /oauth/authorize", "POST /oauth/authorize", "POST /oauth/token",
        "GET /account/signin", "POST /account/signin", "GET /account/signup", "POST /account/signup", "POST /account/signout",
        "GET /dashboard", "GET /account", "POST /account/sharex",
    ];

    private static readonly string[] ExcludedPrefixes = ["/mcp", "/docs", "/guide", "/privacy", "/terms", "/abuse", "/llms.txt", "/robots.txt", "/admin"];

    [Fact]
    public async Task Document_IsOpenApi31_AndIsWrittenForTheValidator()
    {
        await using var app = new ImagebinApp();
        var json = await app.Anonymous().GetStringAsync("/api/v1/openapi.json");
        var document = JsonNode.Parse(json)!;

        Assert.StartsWith("3.1.", (string)document["openapi"]!);
        Assert.Equal(ImagebinApp.BaseUrl, (string)document["servers"]![0]!["url"]!);
        if (Environment.GetEnvironmentVariable("IMAGEBIN_OPENAPI_OUT") is { Length: > 0 } path)
        {
            await File.WriteAllTextAsync(path, json);
        }
    }

    [Fact]
    public async Task Document_MatchesTheRoutes_BothWays()
    {
        await using var app = new ImagebinApp();
        var document = await GetDocumentAsync(app);
        var documented = Operations(document).Select(o => $"{o.Method.ToUpperInvariant()} {o.Path}").ToHashSet();

        var routes = app.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .SelectMany(endpoint => (endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["*"])
                .Select(method => $"{method} {Normalize(endpoint.RoutePattern.RawText ?? "")}"))
            .ToHashSet();
        var expected = routes.Where(route => !Excluded.Contains(route) && !ExcludedPrefixes.Any(prefix => route.Split(' ')[1].StartsWith(prefix, StringComparison.Ordinal)))
            .ToHashSet();

        Assert.Empty(expected.Except(documented).Order());
        Assert.Empty(documented.Except(routes).Order());
        // The ones this API is about are there, so the comparison above compared something.
        Assert.Contains("POST /api/v1/items", documented);
        Assert.Contains("GET /i/{file}", documented);
        Assert.Contains("GET /{id}", documented);
        Assert.Contains("POST /oauth/register", documented);
        Assert.Contains("GET /.well-known/oauth-protected-resource", documented);
    }

    [Fact]
    public async Task Upload_DocumentsRawImageTypes_Multipart_AndTheXHeaders()
    {
        await using var app = new ImagebinApp();
        var upload = (await GetDocumentAsync(app))["paths"]!["/api/v1/items"]!["post"]!;

        var content = upload["requestBody"]!["content"]!.AsObject();
        foreach (var type in new[] { "image/jpeg", "image/png", "image/gif", "image/webp", "application/octet-stream", "multipart/form-data" })
        {
            Assert.True(content.ContainsKey(type), type);
        }

        var form = content["multipart/form-data"]!["schema"]!;
        Assert.Contains("file", form["required"]!.AsArray().Select(n => (string)n!));
        var fields = form["properties"]!.AsObject().Select(p => p.Key).ToHashSet();
        var headers = upload["parameters"]!.AsArray().Where(p => (string)p!["in"]! == "header").Select(p => (string)p!["name"]!).ToHashSet();
        foreach (var field in Imagebin.Features.Items.ItemFieldParser.UploadFieldNames)
        {
            Assert.Contains(field, fields);
            Assert.Contains("x-" + field.Replace('_', '-'), headers);
        }

        Assert.Subset(headers, new HashSet<string> { "x-title", "x-description", "x-tags", "x-category", "x-private", "x-dl-limit", "x-ai-optout", "x-expires-in" });
        Assert.Equal("#/components/schemas/OwnerItem", (string)upload["responses"]!["201"]!["content"]!["application/json"]!["schema"]!["$ref"]!);
    }

    [Fact]
    public async Task SecuredOperations_ListTheScopesTheirRoutesRequire()
    {
        await using var app = new ImagebinApp();
        var document = await GetDocumentAsync(app);
        var checkedScopes = 0;
        foreach (var endpoint in app.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>())
        {
            var policies = endpoint.Metadata.GetOrderedMetadata<IAuthorizeData>().Select(a => a.Policy).OfType<string>().ToList();
            if (endpoint.Metadata.GetMetadata<IAuthorizeData>() is null || endpoint.Metadata.GetMetadata<IHttpMethodMetadata>() is not { } methods)
            {
                continue;
            }

            var path = Normalize(endpoint.RoutePattern.RawText!);
            foreach (var method in methods.HttpMethods)
            {
                var security = document["paths"]![path]![method.ToLowerInvariant()]!["security"]!.AsArray();
                var apiKey = security.Single(r => r!.AsObject().ContainsKey("api_key"))!["api_key"]!.AsArray().Select(s => (string)s!).ToList();
                Assert.All(policies, policy => Assert.Contains(policy, apiKey));
                checkedScopes += policies.Count;
            }
        }

        Assert.True(checkedScopes > 10);
        var paths = document["paths"]!;
        // Anonymous uploads (after the upload challenge) and token deletes make credentials optional on both.
        foreach (var (path, method, scope) in new[] { ("/api/v1/items", "post", "image:create"), ("/api/v1/items/{id}", "delete", "image:delete") })
        {
            var optional = paths[path]![method]!["security"]!.AsArray();
            Assert.Empty(optional[0]!.AsObject());
            Assert.Equal(scope, (string)optional[1]!["api_key"]![0]!);
        }

        var read = paths["/api/v1/items/{id}"]!["get"]!["security"]!.AsArray();
        Assert.Empty(read[0]!.AsObject());
        Assert.Equal("image:read", (string)read[1]!["api_key"]![0]!);
        Assert.DoesNotContain(paths["/api/v1/admin/audit"]!["get"]!["security"]!.AsArray(), r => r!.AsObject().ContainsKey("oauth2"));

        var oauth = document["components"]!["securitySchemes"]!["oauth2"]!["flows"]!["authorizationCode"]!;
        Assert.Equal($"{ImagebinApp.BaseUrl}/oauth/authorize", (string)oauth["authorizationUrl"]!);
        Assert.Equal($"{ImagebinApp.BaseUrl}/oauth/token", (string)oauth["tokenUrl"]!);
        Assert.Equal("bearer", (string)document["components"]!["securitySchemes"]!["api_key"]!["scheme"]!);
    }

    [Fact]
    public async Task ErrorResponses_ReferenceTheProblemSchema_WithEveryErrorCode()
    {
        await using var app = new ImagebinApp();
        var document = await GetDocumentAsync(app);
        var codes = typeof(ErrorCodes).GetFields().Where(f => f.IsLiteral).Select(f => (string)f.GetRawConstantValue()!).ToHashSet();
        var problem = document["components"]!["schemas"]!["Problem"]!;
        Assert.Equal(codes, problem["properties"]!["error"]!["enum"]!.AsArray().Select(n => (string)n!).ToHashSet());
        Assert.Contains("error", problem["required"]!.AsArray().Select(n => (string)n!));

        var problems = 0;
        foreach (var (method, path, operation) in Operations(document).Where(o => o.Path.StartsWith("/api/v1/", StringComparison.Ordinal)))
        {
            foreach (var (status, response) in operation["responses"]!.AsObject().Where(r => r.Key[0] is '4' or '5'))
            {
                var media = response!["content"]?["application/problem+json"];
                Assert.True(media is not null, $"{method} {path} {status}");
                Assert.Equal("#/components/schemas/Problem", (string)media["schema"]!["$ref"]!);
                problems++;
            }
        }

        Assert.True(problems > 40);
        Assert.Contains("not_found", (string)document["paths"]!["/api/v1/items/{id}"]!["get"]!["responses"]!["404"]!["description"]!);
    }

    [Fact]
    public async Task Item_MarksTheContractFieldsRequired_AndTheOwnerOnlyFieldsOnlyForOwners()
    {
        await using var app = new ImagebinApp();
        var schemas = (await GetDocumentAsync(app))["components"]!["schemas"]!;
        var item = schemas["Item"]!["required"]!.AsArray().Select(n => (string)n!).ToHashSet();
        var owner = schemas["OwnerItem"]!["required"]!.AsArray().Select(n => (string)n!).ToHashSet();
        Assert.Contains("direct_url", item);
        Assert.Contains("ai_caption", item);
        Assert.DoesNotContain("scan_state", item);
        Assert.False(schemas["Item"]!["properties"]!.AsObject().ContainsKey("scan_state"));
        Assert.Superset(item, owner);
        Assert.Contains("scan_state", owner);
        Assert.Contains("dl_limit", owner);
        Assert.Equal("integer", (string)schemas["Item"]!["properties"]!["size_bytes"]!["type"]!);
        Assert.NotNull(schemas["Item"]!["examples"]);
        Assert.Equal("#/components/schemas/OwnerItem", (string)schemas["ItemList"]!["properties"]!["items"]!["items"]!["$ref"]!);
    }

    [Fact]
    public async Task Document_IsServedWithAnETag_And304_AndPublicCaching()
    {
        await using var app = new ImagebinApp();
        var client = app.Anonymous();
        using var first = await client.GetAsync("/api/v1/openapi.json");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("application/json", first.Content.Headers.ContentType!.MediaType);
        Assert.Equal("public, max-age=300", first.Headers.CacheControl!.ToString());
        var etag = first.Headers.ETag!;

        using var again = new HttpRequestMessage(HttpMethod.Get, "/api/v1/openapi.json");
        again.Headers.IfNoneMatch.Add(etag);
        using var notModified = await client.SendAsync(again);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);

        using var stale = new HttpRequestMessage(HttpMethod.Get, "/api/v1/openapi.json");
        stale.Headers.IfNoneMatch.Add(new EntityTagHeaderValue("\"other\""));
        using var full = await client.SendAsync(stale);
        Assert.Equal(HttpStatusCode.OK, full.StatusCode);
        Assert.Equal(await first.Content.ReadAsByteArrayAsync(), await full.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task ReferencePage_ListsEveryDocumentedOperation()
    {
        await using var app = new ImagebinApp();
        var document = await GetDocumentAsync(app);
        using var response = await app.Anonymous().GetAsync("/docs/api");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType!.MediaType);
        var html = await response.Content.ReadAsStringAsync();

        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        foreach (var (method, path, operation) in Operations(document))
        {
            Assert.Contains($"<code>{method.ToUpperInvariant()} {System.Net.WebUtility.HtmlEncode(path)}</code>", html.Replace("&#x2B;", "+"));
            if (operation["summary"] is { } summary)
            {
                Assert.Contains(System.Text.Encodings.Web.HtmlEncoder.Default.Encode((string)summary!), html);
            }
        }

        Assert.Contains("image:create", html);
        Assert.Contains("multipart/form-data", html);
    }

    private static async Task<JsonNode> GetDocumentAsync(ImagebinApp app) =>
        JsonNode.Parse(await app.Anonymous().GetStringAsync("/api/v1/openapi.json"))!;

    private static IEnumerable<(string Method, string Path, JsonNode Operation)> Operations(JsonNode document) =>
        from path in document["paths"]!.AsObject()
        from operation in path.Value!.AsObject()
        where Methods.Contains(operation.Key)
        select (operation.Key, path.Key, operation.Value!);

    /// <summary>A route pattern as OpenAPI writes it: leading slash, no trailing one, no constraints (<c>{id:minlength(10)}</c> → <c>{id}</c>).</summary>
    private static string Normalize(string pattern) => "/" + Constraint().Replace(pattern.Trim('/'), "}");

    [GeneratedRegex(@":[^{}]*(\([^)]*\))?[^{}]*\}")]
    private static partial Regex Constraint();
}
