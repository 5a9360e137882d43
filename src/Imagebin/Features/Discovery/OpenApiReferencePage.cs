using System.Text;
using Imagebin.Features.Authority;
using Microsoft.OpenApi;

namespace Imagebin.Features.Discovery;

/// <summary>
/// <c>/docs/api</c>: the OpenAPI document as one HTML page, operations grouped by tag. Rendered from the same cached
/// model that is served as JSON, so the two cannot disagree; no script, every value encoded.
/// </summary>
public static class OpenApiReferencePage
{
    public static IResult Render(OpenApiSnapshot snapshot)
    {
        var document = snapshot.Document;
        var body = new StringBuilder();
        body.Append("<p>").Append(Html.Encode(document.Info.Title)).Append(", version ").Append(Html.Encode(document.Info.Version))
            .Append(". The machine-readable document: <a href=\"").Append(Html.Encode(OpenApiSetup.DocumentPath)).Append("\">")
            .Append(Html.Encode(OpenApiSetup.DocumentPath)).Append("</a> (OpenAPI ").Append("3.1").Append(").</p>");
        foreach (var paragraph in (document.Info.Description ?? "").Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            body.Append("<p>").Append(Html.Encode(paragraph)).Append("</p>");
        }

        var operations = Operations(document).ToList();
        var tags = (document.Tags ?? new HashSet<OpenApiTag>()).Select(tag => (tag.Name ?? "", tag.Description)).ToList();
        foreach (var name in operations.Select(o => o.Tag).Distinct().Where(name => tags.All(tag => tag.Item1 != name)))
        {
            tags.Add((name, null));
        }

        foreach (var (tag, description) in tags)
        {
            var inTag = operations.Where(o => o.Tag == tag).ToList();
            if (inTag.Count == 0)
            {
                continue;
            }

            body.Append("<h2 id=\"").Append(Html.Encode("tag-" + tag)).Append("\">").Append(Html.Encode(tag)).Append("</h2>");
            if (description is not null)
            {
                body.Append("<p>").Append(Html.Encode(description)).Append("</p>");
            }

            foreach (var (_, method, path, operation) in inTag)
            {
                RenderOperation(body, method, path, operation);
            }
        }

        return Html.Page("API reference", body.ToString());
    }

    /// <summary>Every operation with its first tag (untagged ones under "Other"), in document order.</summary>
    public static IEnumerable<(string Tag, string Method, string Path, OpenApiOperation Operation)> Operations(OpenApiDocument document) =>
        from path in document.Paths
        from operation in path.Value.Operations ?? []
        select (operation.Value.Tags?.FirstOrDefault()?.Name ?? "Other", operation.Key.Method.ToUpperInvariant(), path.Key, operation.Value);

    private static void RenderOperation(StringBuilder body, string method, string path, OpenApiOperation operation)
    {
        body.Append("<section class=\"operation\"><h3><code>").Append(Html.Encode(method)).Append(' ').Append(Html.Encode(path))
            .Append("</code></h3>");
        if (operation.Summary is { } summary)
        {
            body.Append("<p><strong>").Append(Html.Encode(summary)).Append("</strong></p>");
        }

        foreach (var paragraph in (operation.Description ?? "").Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            body.Append("<p>").Append(Html.Encode(paragraph)).Append("</p>");
        }

        var security = operation.Security ?? [];
        if (security.Count > 0)
        {
            var ways = security.Select(requirement => requirement.Count == 0
                ? "none (anonymous)"
                : string.Join(", ", requirement.Select(entry => $"{entry.Key.Reference.Id}: {(entry.Value.Count == 0 ? "any scope" : string.Join(" ", entry.Value))}")));
            body.Append("<p>Scopes: ").Append(Html.Encode(string.Join(" | ", ways))).Append("</p>");
        }

        var parameters = operation.Parameters ?? [];
        if (parameters.Count > 0)
        {
            body.Append("<p>Parameters:</p><ul>");
            foreach (var parameter in parameters)
            {
                body.Append("<li><code>").Append(Html.Encode(parameter.Name)).Append("</code> (").Append(Html.Encode(parameter.In?.ToString().ToLowerInvariant()))
                    .Append(parameter.Required ? ", required" : "").Append(')');
                if (parameter.Description is { } text)
                {
                    body.Append(": ").Append(Html.Encode(text));
                }

                body.Append("</li>");
            }

            body.Append("</ul>");
        }

        if (operation.RequestBody?.Content is { Count: > 0 } content)
        {
            body.Append("<p>Request body: ").Append(string.Join(", ", content.Keys.Select(type => $"<code>{Html.Encode(type)}</code>"))).Append("</p>");
        }

        body.Append("<p>Responses:</p><ul>");
        foreach (var (status, response) in operation.Responses ?? [])
        {
            body.Append("<li><code>").Append(Html.Encode(status)).Append("</code> ").Append(Html.Encode(response.Description));
            if (response.Content is { Count: > 0 } types)
            {
                body.Append(" (").Append(Html.Encode(string.Join(", ", types.Keys))).Append(')');
            }

            body.Append("</li>");
        }

        body.Append("</ul></section>");
    }
}
