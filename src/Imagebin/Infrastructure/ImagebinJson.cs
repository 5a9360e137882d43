using System.Text.Json.Serialization;
using Imagebin.Features.Items;

namespace Imagebin.Infrastructure;

/// <summary>Source-generated JSON for everything the API writes: snake_case, nulls written (the contract has nullable fields).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(ProblemBody))]
[JsonSerializable(typeof(ItemDto))]
[JsonSerializable(typeof(OwnerItemDto))]
[JsonSerializable(typeof(ItemListDto))]
[JsonSerializable(typeof(Dictionary<string, string>))]
public sealed partial class ImagebinJson : JsonSerializerContext;
