using System.Text.Json.Nodes;
using Imagebin.Features.Items;
using Imagebin.Features.Media;
using Imagebin.Infrastructure;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Imagebin.Features.Discovery;

/// <summary>Operation details of endpoints that read their request themselves: the upload's bodies and headers, the media paths.</summary>
public static class OpenApiOperations
{
    /// <summary>The raw body types an upload documents; the format is identified from the bytes, never from this header.</summary>
    public static readonly string[] RawImageTypes = ["image/jpeg", "image/png", "image/gif", "image/webp", "image/avif", "application/octet-stream"];

    private static readonly Dictionary<string, (string Description, OpenApiSchema Schema)> UploadFields = new()
    {
        ["title"] = ("Title (single line).", Text()),
        ["description"] = ("Description (may span lines).", Text()),
        ["tags"] = ("Comma-separated tags.", Text()),
        ["category"] = ($"Category (up to {ItemFieldParser.MaxCategoryLength} characters).", new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = ItemFieldParser.MaxCategoryLength }),
        ["private"] = ("`true`/`1` makes the item private: served only with its share secret.", Flag()),
        ["dl_limit"] = ("Downloads allowed before the item is gone (an extension).", Integer(1, ItemFieldParser.MaxDlLimit)),
        ["ai_optout"] = ("`true`/`1` keeps the item away from AI captioning (an extension).", Flag()),
        ["expires_in"] = ("Seconds until the item expires (an extension).", Integer(ItemFieldParser.MinExpiresIn, ItemFieldParser.MaxExpiresIn)),
    };

    public static Task Upload(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        operation.Parameters ??= [];
        foreach (var name in ItemFieldParser.UploadFieldNames)
        {
            var (description, schema) = UploadFields[name];
            operation.Parameters.Add(new OpenApiParameter
            {
                Name = "x-" + name.Replace('_', '-'),
                In = ParameterLocation.Header,
                Description = description + " UTF-8; percent-decoded when it contains `%XX`. A form field of the same name wins.",
                Schema = schema,
            });
        }

        var content = new Dictionary<string, OpenApiMediaType>();
        foreach (var type in RawImageTypes)
        {
            content[type] = new OpenApiMediaType
            {
                Schema = new OpenApiSchema { Type = JsonSchemaType.String, ContentMediaType = type, Description = "The image's bytes." },
            };
        }

        var form = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Required = new HashSet<string>(["file"]),
            Properties = new Dictionary<string, IOpenApiSchema>
            {
                ["file"] = new OpenApiSchema { Type = JsonSchemaType.String, ContentMediaType = "application/octet-stream", Description = "The image (one file)." },
            },
        };
        foreach (var name in ItemFieldParser.UploadFieldNames)
        {
            form.Properties[name] = new OpenApiSchema { Type = JsonSchemaType.String, Description = UploadFields[name].Description };
        }

        content["multipart/form-data"] = new OpenApiMediaType
        {
            Schema = form,
            Encoding = new Dictionary<string, OpenApiEncoding> { ["file"] = new() { ContentType = "image/*, application/octet-stream" } },
            Example = new JsonObject { ["file"] = "(binary)", ["title"] = "Nap", ["tags"] = "cats,window", ["private"] = "true" },
        };
        operation.RequestBody = new OpenApiRequestBody
        {
            Required = true,
            Description = "The image as the raw body (any `image/*` type or `application/octet-stream`; the format is identified from "
                + "the bytes: JPEG, PNG, GIF, WebP or AVIF), or `multipart/form-data` with the file in part `file` and optional fields.",
            Content = content,
        };

        if (operation.Responses?.TryGetValue("201", out var created) == true && created is OpenApiResponse response)
        {
            response.Description = "Stored; the owner's view of the new item. Moderation and captioning continue in the background.";
            response.Headers = new Dictionary<string, IOpenApiHeader>
            {
                ["Location"] = new OpenApiHeader { Description = "The item's API URL.", Schema = new OpenApiSchema { Type = JsonSchemaType.String, Format = "uri" } },
            };
        }

        return Task.CompletedTask;
    }

    /// <summary>The direct path; on a separate host (<c>Imagebin:DirectBaseUrl</c>) the operation names that server.</summary>
    public static Task DirectMedia(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var site = context.ApplicationServices.GetRequiredService<SiteUrls>();
        var direct = new Uri(site.DirectBase).GetLeftPart(UriPartial.Authority);
        if (!string.Equals(direct, new Uri(site.PublicBase).GetLeftPart(UriPartial.Authority), StringComparison.OrdinalIgnoreCase))
        {
            operation.Servers = [new OpenApiServer { Url = direct }];
        }

        operation.Parameters ??= [];
        operation.Parameters.Add(Query("s", "The share secret of a private item."));
        AddVariantParameters(operation);
        operation.Parameters.Add(Header("Range", "One byte range (`bytes=0-1023`); not honoured for items with a download limit, nor for variants."));
        operation.Parameters.Add(Header("If-None-Match", "An ETag from an earlier answer: 304 when unchanged."));
        operation.Parameters.Add(Header("Accept", "With `auto`, the image types the client can show."));
        operation.Responses ??= [];
        operation.Responses["200"] = new OpenApiResponse
        {
            Description = "The image's bytes, or a variant's, with ETag, Last-Modified and long-lived Cache-Control.",
            Content = RawImageTypes[..^1].ToDictionary(type => type, type => new OpenApiMediaType
            {
                Schema = new OpenApiSchema { Type = JsonSchemaType.String, ContentMediaType = type },
            }),
        };
        operation.Responses["206"] = new OpenApiResponse { Description = "The requested byte range (Content-Range)." };
        operation.Responses["301"] = new OpenApiResponse { Description = "The extension was missing or wrong: the right path." };
        operation.Responses["302"] = new OpenApiResponse { Description = "The bytes are at a short-lived URL of the blob store." };
        operation.Responses["304"] = new OpenApiResponse { Description = "Not modified." };
        operation.Responses["416"] = new OpenApiResponse { Description = "The range is past the end." };
        return Task.CompletedTask;
    }

    /// <summary>The moderators' file endpoint: the original, or a variant of it for the review lists.</summary>
    public static Task AdminFile(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        operation.Parameters ??= [];
        AddVariantParameters(operation);
        operation.Parameters.Add(Header("Accept", "With `auto`, the image types the client can show."));
        return Task.CompletedTask;
    }

    /// <summary><c>w</c>, <c>format</c> and <c>auto</c>, as the direct path reads them (<see cref="VariantSpec.Parse"/>).</summary>
    private static void AddVariantParameters(OpenApiOperation operation)
    {
        operation.Parameters!.Add(new OpenApiParameter
        {
            Name = "w",
            In = ParameterLocation.Query,
            Description = "A variant of this width (never wider than the original); any other width is 400 `invalid_request`.",
            Schema = new OpenApiSchema
            {
                Type = JsonSchemaType.Integer,
                Enum = [.. VariantSpec.Widths.Select(width => (JsonNode)JsonValue.Create(width))],
            },
        });
        operation.Parameters.Add(new OpenApiParameter
        {
            Name = "format",
            In = ParameterLocation.Query,
            Description = "A variant in this format (the original's when omitted).",
            Schema = new OpenApiSchema { Type = JsonSchemaType.String, Enum = [.. VariantSpec.Formats.Select(format => (JsonNode)JsonValue.Create(format))] },
        });
        operation.Parameters.Add(new OpenApiParameter
        {
            Name = "auto",
            In = ParameterLocation.Query,
            Description = "A variant in the best format the `Accept` header allows: AVIF, else WebP, else the original's (`Vary: Accept`).",
            Schema = new OpenApiSchema { Type = JsonSchemaType.String },
        });
    }

    public static Task ShortLink(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        operation.Parameters ??= [];
        operation.Parameters.Add(Query("s", "The share secret of a private item."));
        operation.Parameters.Add(Header("Accept", "With `image/*` (and not `text/html`), a redirect to the bytes; otherwise the view page."));
        operation.Responses ??= [];
        operation.Responses["200"] = new OpenApiResponse
        {
            Description = "The view page (HTML with OpenGraph tags).",
            Content = new Dictionary<string, OpenApiMediaType> { ["text/html"] = new() { Schema = new OpenApiSchema { Type = JsonSchemaType.String } } },
        };
        operation.Responses["302"] = new OpenApiResponse { Description = "For image clients: the item's `direct_url`." };
        return Task.CompletedTask;
    }

    private static OpenApiParameter Query(string name, string description) =>
        new() { Name = name, In = ParameterLocation.Query, Description = description, Schema = new OpenApiSchema { Type = JsonSchemaType.String } };

    private static OpenApiParameter Header(string name, string description) =>
        new() { Name = name, In = ParameterLocation.Header, Description = description, Schema = new OpenApiSchema { Type = JsonSchemaType.String } };

    private static OpenApiSchema Text() => new() { Type = JsonSchemaType.String };

    private static OpenApiSchema Flag() => new() { Type = JsonSchemaType.String, Enum = [.. new[] { "true", "false", "1", "0" }.Select(v => (JsonNode)JsonValue.Create(v))] };

    private static OpenApiSchema Integer(long minimum, long maximum) => new()
    {
        Type = JsonSchemaType.Integer,
        Minimum = minimum.ToString(System.Globalization.CultureInfo.InvariantCulture),
        Maximum = maximum.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
