using System.Text.Json;
using Microsoft.Playwright;

namespace Imagebin.Tests.Browser;

/// <summary>
/// axe-core (the pinned npm package of <c>tools/axe</c>, installed by test.sh) run in a page: a test fails on every
/// <c>serious</c> or <c>critical</c> violation, naming its rule, impact and elements.
/// </summary>
public static class Accessibility
{
    /// <summary>Where test.sh says axe is; otherwise the copy <c>npm ci</c> put in <c>tools/axe</c> of this repository.</summary>
    public const string ScriptVariable = "IMAGEBIN_AXE_JS";

    private static readonly Lazy<string> Script = new(() =>
    {
        var path = Environment.GetEnvironmentVariable(ScriptVariable) is { Length: > 0 } configured ? configured : RepositoryCopy();
        return File.Exists(path)
            ? File.ReadAllText(path)
            : throw new InvalidOperationException($"axe-core is missing at {path}: run `npm ci` in tools/axe (./test.sh does) or set {ScriptVariable}.");
    });

    /// <summary>
    /// Runs axe on the page as it is now (after the caller waited for what it needs) and fails listing the serious and
    /// critical violations. The script goes in through the DevTools protocol, which the page's Content-Security-Policy
    /// does not govern, so the page is checked under its real policy.
    /// </summary>
    public static async Task AssertNoSeriousViolationsAsync(IPage page)
    {
        var violations = await SeriousViolationsAsync(page);
        Assert.True(violations.Count == 0,
            $"axe found {violations.Count} serious or critical violation(s) on {page.Url}:{Environment.NewLine}{string.Join(Environment.NewLine, violations)}");
    }

    /// <summary>Each serious or critical violation as "rule (impact): target, target…".</summary>
    public static async Task<IReadOnlyList<string>> SeriousViolationsAsync(IPage page)
    {
        if (!await page.EvaluateAsync<bool>("() => typeof window.axe?.run === 'function'"))
        {
            await page.EvaluateAsync(Script.Value);
        }

        var results = await page.EvaluateAsync<JsonElement>("""
            async () => {
              const results = await axe.run(document, { resultTypes: ['violations'] });
              return {
                version: axe.version,
                passes: results.passes.length,
                violations: results.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => ({
                  id: v.id, impact: v.impact, help: v.help,
                  targets: v.nodes.map(n => n.target.join(' ') + (n.failureSummary ? ' [' + n.failureSummary.replace(/\s+/g, ' ') + ']' : '')),
                })),
              };
            }
            """);

        // axe really ran (a version, and rules that passed): an empty list means the page passed, not that nothing was checked.
        Assert.StartsWith("4.", results.GetProperty("version").GetString());
        Assert.True(results.GetProperty("passes").GetInt32() > 0, "axe checked nothing");
        return [.. results.GetProperty("violations").EnumerateArray().Select(v =>
            $"{v.GetProperty("id").GetString()} ({v.GetProperty("impact").GetString()}: {v.GetProperty("help").GetString()}): "
            + string.Join("; ", v.GetProperty("targets").EnumerateArray().Select(t => t.GetString())))];
    }

    private static string RepositoryCopy()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Imagebin.slnx")))
        {
            directory = directory.Parent;
        }

        return Path.Combine(
            directory?.FullName ?? throw new InvalidOperationException("Imagebin.slnx not found above the test binary."),
            "tools", "axe", "node_modules", "axe-core", "axe.min.js");
    }
}
