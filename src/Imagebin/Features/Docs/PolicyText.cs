using System.Text;
using System.Text.RegularExpressions;
using Imagebin.Features.Authority;

namespace Imagebin.Features.Docs;

/// <summary>
/// An operator's policy file as page HTML: an <c>.html</c>/<c>.htm</c> file is the operator's own fragment and goes in as
/// written; anything else is read as a small Markdown subset (headings, paragraphs, lists, emphasis, code, links), encoded.
/// </summary>
public static partial class PolicyText
{
    public static string FromFile(string path)
    {
        var text = File.ReadAllText(path);
        return Path.GetExtension(path).ToLowerInvariant() is ".html" or ".htm" ? text : Markdown(text);
    }

    public static string Markdown(string markdown)
    {
        var html = new StringBuilder();
        foreach (var block in BlankLines().Split(markdown.Replace("\r\n", "\n").Trim()))
        {
            var lines = block.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            if (lines.Length == 0)
            {
                continue;
            }

            if (Heading().Match(lines[0]) is { Success: true } heading && lines.Length == 1)
            {
                // The page's title is the h1, so a file's headings start one level below.
                var level = Math.Min(heading.Groups[1].Length + 1, 6);
                html.Append($"<h{level}>").Append(Inline(heading.Groups[2].Value)).Append($"</h{level}>");
            }
            else if (lines.All(line => line.StartsWith("- ", StringComparison.Ordinal) || line.StartsWith("* ", StringComparison.Ordinal)))
            {
                html.Append("<ul>");
                foreach (var line in lines)
                {
                    html.Append("<li>").Append(Inline(line[2..])).Append("</li>");
                }

                html.Append("</ul>");
            }
            else
            {
                html.Append("<p>").Append(Inline(string.Join(' ', lines))).Append("</p>");
            }
        }

        return html.ToString();
    }

    private static string Inline(string text)
    {
        var encoded = Html.Encode(text);
        encoded = Link().Replace(encoded, match => $"<a href=\"{match.Groups[2].Value}\">{match.Groups[1].Value}</a>");
        encoded = Strong().Replace(encoded, "<strong>$1</strong>");
        return Code().Replace(encoded, "<code>$1</code>");
    }

    [GeneratedRegex(@"\n\s*\n")]
    private static partial Regex BlankLines();

    [GeneratedRegex(@"^(#{1,5})\s+(.+)$")]
    private static partial Regex Heading();

    // Applied to encoded text: only http(s), mailto and site-relative targets become links.
    [GeneratedRegex(@"\[([^\]]+)\]\(((?:https?://|mailto:|/)[^)\s]*)\)")]
    private static partial Regex Link();

    [GeneratedRegex(@"\*\*(.+?)\*\*")]
    private static partial Regex Strong();

    [GeneratedRegex(@"`([^`]+)`")]
    private static partial Regex Code();
}
