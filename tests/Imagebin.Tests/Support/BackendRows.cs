using System.Reflection;
using Xunit.Sdk;
using Xunit.v3;

namespace Imagebin.Tests.Support;

/// <summary>
/// <see cref="BackendsAttribute"/> for theories that have cases of their own: each case once per backend, with the backend
/// as the first argument and the scale-out row run on the same terms (never skipped).
/// </summary>
public static class BackendRows
{
    public static IEnumerable<ITheoryDataRow> Of(params object?[] data)
    {
        yield return new TheoryDataRow([Backend.Embedded, .. data]);
        yield return new TheoryDataRow([Backend.ScaleOut, .. data]);
    }

    /// <summary>Every case of a <c>TheoryData</c> on every backend, for <c>[MemberData]</c>.</summary>
    public static IEnumerable<ITheoryDataRow> Times(IEnumerable<ITheoryDataRow> cases) => cases.SelectMany(c => Of(c.GetData()));
}

/// <summary><c>[InlineData]</c> on every backend: <c>[Theory, BackendsInlineData("a")] Task X(Backend backend, string value)</c>.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
public sealed class BackendsInlineDataAttribute(params object?[] data) : DataAttribute
{
    public override ValueTask<IReadOnlyCollection<ITheoryDataRow>> GetData(MethodInfo testMethod, DisposalTracker disposalTracker) =>
        ValueTask.FromResult<IReadOnlyCollection<ITheoryDataRow>>(BackendRows.Of(data).ToList());

    public override bool SupportsDiscoveryEnumeration() => true;
}
