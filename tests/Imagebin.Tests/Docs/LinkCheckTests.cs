using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Imagebin.Tests.Support;

namespace Imagebin.Tests.Docs;

/// <summary>
/// Crawls the documentation from <c>/docs</c>, <c>/guide</c>, <c>/llms.txt</c> and the agent card: every link to this site
/// must resolve, and every <c>#fragment</c> must name an element of its page.
/// </summary>
public sealed partial class LinkCheckTests
{
    private static readonly string[] Starts = ["/docs", "/guide", "/llms.txt", "/.well-known/agent.json"];

    /// <summary>
    /// Served by work in progress elsewhere in issue 7 (the rendered OpenAPI reference, the OpenAPI document, the MCP
    /// server). Ignored only while they answer 404: once they exist they are checked like every other link.
    /// </summary>
    private static readonly string[] KnownPending = ["/docs/api", "/api/v1/openapi.json", "/mcp"];

    [Fact]
    public async Task EveryLinkInTheDocsAndDiscoveryDocuments_Resolves()
    {
        await using var app = new ImagebinApp();
        var client = app.Anonymous();
        var origin = new Uri(ImagebinApp.BaseUrl);
        var pending = new Queue<(Uri Url, string From)>(Starts.Select(path => (new Uri(origin, path), "start")));
        var seen = new HashSet<string>();
        var pages = new Dictionary<string, string>();
        var fragments = new List<(Uri Url, string From)>();
        var failures = new List<string>();

        while (pending.TryDequeue(out var next))
        {
            var (url, from) = next;
            if (url.Fragment.Length > 1)
            {
                fragments.Add((url, from));
            }

            var path = url.GetLeftPart(UriPartial.Query);
            if (!seen.Add(path))
            {
                continue;
            }

            using var response = await client.GetAsync(url.PathAndQuery);
            var status = (int)response.StatusCode;
            var ok = response.IsSuccessStatusCode
                || (status == 401 && url.AbsolutePath.StartsWith("/api/", StringComparison.Ordinal))
                || status == 405
                // The authorization and token endpoints refuse a bare GET as a bad OAuth request: they exist and speak the
                // protocol, which is all a link to them promises (a missing endpoint would be a 404).
                || (status == 400 && url.AbsolutePath is "/oauth/authorize" or "/oauth/token")
                || (status == 404 && KnownPending.Contains(url.AbsolutePath));
            if (!ok)
            {
                failures.Add($"{url} (linked from {from}): {status}");
                continue;
            }

            if (!response.IsSuccessStatusCode)
            {
                continue;
            }

            var body = await response.Content.ReadAsStringAsync();
            var links = response.Content.Headers.ContentType?.MediaType switch
            {
                "text/html" => Hrefs(body, url),
                "application/json" when url.AbsolutePath == Starts[3] => UrlsIn(JsonDocument.Parse(body).RootElement),
                "text/plain" when url.AbsolutePath == Starts[2] => AbsoluteUrls().Matches(body).Select(m => m.Value.TrimEnd('.', ',', ')', ':')),
                _ => [],
            };
            if (response.Content.Headers.ContentType?.MediaType == "text/html")
            {
                pages[path] = body;
            }

            foreach (var link in links)
            {
                if (Uri.TryCreate(url, link, out var target) && target.Scheme == origin.Scheme && target.Authority == origin.Authority)
                {
                    pending.Enqueue((target, url.PathAndQuery));
                }
            }
        }

        foreach (var (url, from) in fragments)
        {
            if (pages.TryGetValue(url.GetLeftPart(UriPartial.Query), out var html) && !html.Contains($"id=\"{url.Fragment[1..]}\"", StringComparison.Ordinal))
            {
                failures.Add($"{url} (linked from {from}): no element with that id");
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
        // The crawl reached the pages it should have, not just its starting points.
        foreach (var expected in new[] { "/docs/errors", "/docs/errors/rate_limited", "/privacy", "/terms", "/abuse", "/.well-known/oauth-protected-resource/mcp" })
        {
            Assert.Contains(ImagebinApp.BaseUrl + expected, seen);
        }
    }

    private static IEnumerable<string> Hrefs(string html, Uri page) =>
        Href().Matches(html).Select(m => WebUtility.HtmlDecode(m.Groups[1].Value)).Where(href => !href.StartsWith("mailto:", StringComparison.Ordinal));

    private static IEnumerable<string> UrlsIn(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.String => AbsoluteUrls().Matches(element.GetString()!).Select(m => m.Value.TrimEnd('.', ',', ')', ':')),
        JsonValueKind.Object => element.EnumerateObject().SelectMany(p => UrlsIn(p.Value)),
        JsonValueKind.Array => element.EnumerateArray().SelectMany(UrlsIn),
        _ => [],
    };

    [GeneratedRegex("href=\"([^\"]*)\"")]
    private static partial Regex Href();

    [GeneratedRegex(@"https?://[^\s""'<>`\]\)]+")]
    private static partial Regex AbsoluteUrls();
}
