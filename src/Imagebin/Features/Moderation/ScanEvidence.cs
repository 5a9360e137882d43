using System.Text.Json;
using System.Text.Json.Serialization;
using Imagebin.Infrastructure;

namespace Imagebin.Features.Moderation;

/// <summary>What each stage of an item's scan decided and with what: shown to the owner and to moderators.</summary>
public sealed class ScanEvidence
{
    public List<StageRecord> Stages { get; set; } = [];

    public string ToJson() => JsonSerializer.Serialize(this, ImagebinJson.Default.ScanEvidence);

    public static ScanEvidence? FromJson(string? json)
    {
        if (string.IsNullOrEmpty(json))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize(json, ImagebinJson.Default.ScanEvidence);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

/// <summary>One stage's record: <see cref="Engine"/> and <see cref="Version"/> say what decided (a scanner and its signature
/// database, a hash list's size, a model's hash), <see cref="Outcome"/> what it found.</summary>
public sealed record StageRecord(
    string Stage,
    string Engine,
    string? Version,
    string Outcome,
    string? Detail,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyDictionary<string, double>? Scores = null);

public static class ScanStages
{
    public const string Malware = "malware";
    public const string HashList = "hash_list";
    public const string Decode = "decode";
    public const string Classifier = "classifier";
    public const string Review = "review";
    public const string Reports = "reports";
}
