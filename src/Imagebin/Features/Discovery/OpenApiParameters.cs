using Imagebin.Data;
using Imagebin.Features.Items;
using Microsoft.OpenApi;

namespace Imagebin.Features.Discovery;

/// <summary>Descriptions and precise schemas of the query and path parameters (the handlers take them as text and validate).</summary>
public static class OpenApiParameters
{
    public static void Describe(OpenApiParameter parameter, string path)
    {
        switch (parameter.Name)
        {
            case "id" when path.Contains("keys/", StringComparison.Ordinal):
                parameter.Description = "The key's id (`key_id`).";
                break;
            case "id" or "itemId":
                parameter.Description = "The item's id.";
                parameter.Example = "a1B2c3D4e5F6";
                break;
            case "s":
                parameter.Description = "The share secret of a private item (the `?s=` its URLs carry). A private item without it is a 404, like a missing one.";
                break;
            case "classification":
                parameter.Description = "Only items with this classification.";
                parameter.Schema = Enum(Classification.All);
                break;
            case "private":
                parameter.Description = "Only private (`true`) or only public (`false`) items.";
                parameter.Schema = Enum(["true", "false"]);
                break;
            case "open":
                parameter.Description = "Only open (`true`) or only resolved (`false`) reports.";
                parameter.Schema = Enum(["true", "false"]);
                break;
            case "q":
                parameter.Description = "Case-insensitive text searched in title, description, tags and AI caption/tags.";
                parameter.Schema = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = 200 };
                break;
            case "limit" when path.EndsWith("audit", StringComparison.Ordinal):
                parameter.Description = "Events per answer.";
                parameter.Schema = Integer(1, 1000, 100);
                break;
            case "limit":
                parameter.Description = "Items per page.";
                parameter.Schema = Integer(1, ItemsApi.MaxPageSize, ItemsApi.DefaultPageSize);
                break;
            case "cursor":
                parameter.Description = "The `next_cursor` of the previous page (opaque).";
                break;
            case "item_id":
                parameter.Description = "Only those about this item.";
                break;
            case "kind":
                parameter.Description = "The hash kind.";
                parameter.Schema = Enum(["sha256", "pdq"]);
                break;
            case "hash":
                parameter.Description = "The hash, hex.";
                break;
            case "file":
                parameter.Description = "`{id}.{ext}`; a missing or wrong extension is answered with a 301 to the right one.";
                parameter.Example = "a1B2c3D4e5F6.png";
                break;
        }
    }

    private static OpenApiSchema Enum(IEnumerable<string> values) => new()
    {
        Type = JsonSchemaType.String,
        Enum = [.. values.Select(value => (System.Text.Json.Nodes.JsonNode)System.Text.Json.Nodes.JsonValue.Create(value))],
    };

    private static OpenApiSchema Integer(int minimum, int maximum, int fallback) => new()
    {
        Type = JsonSchemaType.Integer,
        Minimum = minimum.ToString(System.Globalization.CultureInfo.InvariantCulture),
        Maximum = maximum.ToString(System.Globalization.CultureInfo.InvariantCulture),
        Default = fallback,
    };
}
