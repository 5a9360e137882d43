using Microsoft.Playwright;

namespace Imagebin.Tests.Browser;

/// <summary>
/// What went wrong in one page as Chromium reports it: console errors and warnings (CSP violations among them) and
/// uncaught exceptions. A test that provokes a refused request lets exactly that one through.
/// </summary>
internal sealed class Problems
{
    private const string FailedRequest = "Failed to load resource: the server responded with a status of ";

    private readonly List<(string Text, string Location)> _seen = [];

    public static Problems Watch(IPage page)
    {
        var problems = new Problems();
        page.Console += (_, message) =>
        {
            if (message.Type is "error" or "warning")
            {
                lock (problems._seen)
                {
                    problems._seen.Add(($"console {message.Type}: {message.Text}", message.Location));
                }
            }
        };
        page.PageError += (_, error) =>
        {
            lock (problems._seen)
            {
                problems._seen.Add(($"page error: {error}", ""));
            }
        };
        return problems;
    }

    /// <summary>
    /// None, but Chromium's own report of a failed request whose URL contains <paramref name="failedRequestTo"/> and
    /// whose status is <paramref name="status"/> (any 4xx when not given), when either is given.
    /// </summary>
    public void AssertNone(string? failedRequestTo = null, int? status = null)
    {
        var allowed = failedRequestTo is not null || status is not null;
        var statusText = FailedRequest + (status?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "4");
        lock (_seen)
        {
            var unexpected = _seen
                .Where(p => !(allowed && p.Text.Contains(statusText, StringComparison.Ordinal) && p.Location.Contains(failedRequestTo ?? "", StringComparison.Ordinal)))
                .Select(p => p.Location.Length == 0 ? p.Text : $"{p.Text} ({p.Location})")
                .ToList();
            Assert.True(unexpected.Count == 0, string.Join(Environment.NewLine, unexpected));
        }
    }
}
