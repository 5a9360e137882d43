using System.Reflection;
using System.Text.Json.Nodes;
using Imagebin.Data;
using Imagebin.Features.Accounts;
using Imagebin.Features.Authority;
using Imagebin.Features.Items;
using Imagebin.Infrastructure;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;

namespace Imagebin.Features.Discovery;

/// <summary>
/// What the generator cannot see in the handlers: the site's URLs, the security schemes and each operation's scopes,
/// the problem+json errors with their codes, the Item contract's required and owner-only fields, parameter docs.
/// </summary>
public static class OpenApiTransformers
{
    public const string ProblemContentType = "application/problem+json";
    public const string ApiKeyScheme = "api_key";
    public const string OAuthScheme = "oauth2";
    public const string ProblemSchema = "Problem";

    /// <summary>Every code of <see cref="ErrorCodes"/>, in declaration order.</summary>
    public static readonly string[] AllErrorCodes = [.. typeof(ErrorCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(field => field.IsLiteral && field.FieldType == typeof(string)).Select(field => (string)field.GetRawConstantValue()!)];

    private static readonly string[] AuthenticationCodes = [ErrorCodes.AuthRequired, ErrorCodes.InvalidToken, ErrorCodes.InvalidDpopProof];
    private static readonly string[] AuthorizationCodes = [ErrorCodes.InsufficientScope, ErrorCodes.AccountBanned];

    private static readonly (string Name, string Description)[] Tags =
    [
        ("Items", "Upload, read, list, edit and delete images (the imagebin.ca contract)."),
        ("Media", "The bytes of an image and its short link."),
        ("Account", "The caller's own account and API keys."),
        ("Accounts", "Sign-up without a browser: a proof-of-work challenge traded for an account and an API key."),
        ("Reports", "Abuse reports."),
        ("Admin", "Moderation and site administration; needs an admin account's API key with the 'admin' scope."),
        ("OAuth", "Dynamic client registration (RFC 7591). The authorization and token endpoints are OpenIddict's and described by /.well-known/openid-configuration."),
        ("Discovery", "Machine-readable descriptions of this API."),
    ];

    public static void Configure(OpenApiOptions options)
    {
        options.CreateSchemaReferenceId = type => OpenApiOptions.CreateDefaultSchemaReferenceId(type) switch
        {
            nameof(ProblemBody) => ProblemSchema,
            { } id when id.EndsWith("Dto", StringComparison.Ordinal) => id[..^3],
            var id => id,
        };
        options.AddSchemaTransformer(TransformSchema);
        options.AddOperationTransformer(TransformOperation);
        options.AddDocumentTransformer(TransformDocument);
    }

    private static Task TransformDocument(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        var site = context.ApplicationServices.GetRequiredService<SiteUrls>();
        var issuer = context.ApplicationServices.GetRequiredService<IOptions<AuthorityOptions>>().Value.ResolveIssuer(site).TrimEnd('/');
        document.Info = new OpenApiInfo
        {
            Title = "Imagebin API",
            Version = "1",
            Description = """
                The REST API of Imagebin, an image host compatible with imagebin.ca's API.

                Authentication: `Authorization: Bearer pbca_live_…` (an API key), or an OAuth 2.1 access token
                (`Authorization: Bearer …`, or `Authorization: DPoP …` with a `DPoP` proof for a DPoP-bound token).
                Every error is `application/problem+json` with a stable `error` code; each code is explained at `/docs/errors/{code}`.

                Not described here: the HTML pages (`/`, `/v/{id}`, `/docs…`), the OpenIddict endpoints under `/oauth/`
                other than registration (see `/.well-known/openid-configuration`), the sign-in pages under `/account/`,
                the MCP endpoint `/mcp` (self-describing through `tools/list`) and `/healthz`.
                """,
        };
        document.Servers = [new OpenApiServer { Url = site.PublicBase }];

        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes = new Dictionary<string, IOpenApiSecurityScheme>
        {
            [ApiKeyScheme] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                BearerFormat = "pbca_live_…",
                Description = "An API key (`pbca_live_…`) from the account page, `POST /api/v1/account/keys` or the proof-of-work sign-up. "
                    + "Its scopes are fixed when it is made; only an admin account's keys can carry `admin`.",
            },
            [OAuthScheme] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.OAuth2,
                Description = "OAuth 2.1 authorization code with PKCE (S256, required). Public clients register at `/oauth/register` "
                    + "or use a client ID metadata document. Ask for the resource `" + site.PublicBase + "` (RFC 8707). Tokens may be "
                    + "DPoP-bound (RFC 9449): send them as `Authorization: DPoP <token>` with a `DPoP` proof; the server may ask for a "
                    + "nonce (401 `use_dpop_nonce` with a `DPoP-Nonce` header). See `/.well-known/oauth-protected-resource`.",
                Flows = new OpenApiOAuthFlows
                {
                    AuthorizationCode = new OpenApiOAuthFlow
                    {
                        AuthorizationUrl = new Uri(issuer + AuthoritySetup.AuthorizePath),
                        TokenUrl = new Uri(issuer + AuthoritySetup.TokenPath),
                        RefreshUrl = new Uri(issuer + AuthoritySetup.TokenPath),
                        Scopes = new Dictionary<string, string>
                        {
                            [Scopes.ImageCreate] = "Upload images and edit your own; create and revoke API keys.",
                            [Scopes.ImageRead] = "Read your images' metadata and list them.",
                            [Scopes.ImageDelete] = "Delete your images.",
                        },
                    },
                },
            },
        };

        var used = document.Paths.Values.SelectMany(path => path.Operations?.Values.AsEnumerable() ?? []).SelectMany(operation => operation.Tags?.AsEnumerable() ?? [])
            .Select(tag => tag.Name).ToHashSet();
        document.Tags = new HashSet<OpenApiTag>(Tags.Where(tag => used.Contains(tag.Name))
            .Select(tag => new OpenApiTag { Name = tag.Name, Description = tag.Description }));
        return Task.CompletedTask;
    }

    private static async Task TransformOperation(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var metadata = context.Description.ActionDescriptor.EndpointMetadata;
        var document = context.Document!;
        if (metadata.OfType<RequestBodyMetadata>().LastOrDefault() is { } body)
        {
            operation.RequestBody = await RequestBodyAsync(body, context, cancellationToken);
        }

        operation.Responses ??= [];
        var codes = metadata.OfType<ApiErrorsMetadata>().SelectMany(errors => errors.Codes).ToList();
        if (DocumentSecurity(operation, document, metadata))
        {
            codes.AddRange(AuthenticationCodes.Concat(AuthorizationCodes));
        }

        foreach (var group in codes.Distinct().GroupBy(code => ErrorCodes.Status(code).ToString(System.Globalization.CultureInfo.InvariantCulture)))
        {
            if (!operation.Responses.TryGetValue(group.Key, out var existing) || existing is not OpenApiResponse response)
            {
                response = new OpenApiResponse
                {
                    Content = new Dictionary<string, OpenApiMediaType>
                    {
                        [ProblemContentType] = new() { Schema = new OpenApiSchemaReference(ProblemSchema, document) },
                    },
                };
                operation.Responses[group.Key] = response;
            }

            DescribeProblem(response, [.. group]);
        }

        foreach (var parameter in operation.Parameters?.OfType<OpenApiParameter>() ?? [])
        {
            OpenApiParameters.Describe(parameter, context.Description.RelativePath ?? "");
        }
    }

    private static async Task<OpenApiRequestBody> RequestBodyAsync(RequestBodyMetadata body, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        IOpenApiSchema schema = new OpenApiSchema { Type = JsonSchemaType.String };
        if (body.Type != typeof(string))
        {
            var id = body.Type.Name;
            context.Document!.AddComponent(id, await context.GetOrCreateSchemaAsync(body.Type, null, cancellationToken));
            schema = new OpenApiSchemaReference(id, context.Document);
        }

        return new OpenApiRequestBody
        {
            Required = true,
            Content = body.ContentTypes.ToDictionary(type => type, _ => new OpenApiMediaType { Schema = schema }),
        };
    }

    /// <summary>
    /// Security requirements from <c>RequireAuthorization(scope)</c> and <see cref="CredentialsMetadata"/>; true when the
    /// operation takes credentials (and so can answer 401 and 403).
    /// </summary>
    private static bool DocumentSecurity(OpenApiOperation operation, OpenApiDocument document, IList<object> metadata)
    {
        var authorize = metadata.OfType<IAuthorizeData>().ToList();
        var declared = metadata.OfType<CredentialsMetadata>().LastOrDefault();
        if ((authorize.Count == 0 && declared is null) || metadata.OfType<IAllowAnonymous>().Any())
        {
            return false;
        }

        var scopes = authorize.Select(data => data.Policy).OfType<string>().Concat(declared?.Scopes ?? []).Distinct().ToList();
        var optional = authorize.Count == 0 && declared!.Optional;
        operation.Security = [];
        if (optional)
        {
            operation.Security.Add(new OpenApiSecurityRequirement());
        }

        operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(ApiKeyScheme, document)] = scopes });
        if (!scopes.Contains(Scopes.Admin))
        {
            // Admin is never granted through OAuth: admin operations take an API key only.
            operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(OAuthScheme, document)] = scopes });
        }

        var needs = scopes.Count == 0 ? "a credential with any of the image scopes" : string.Join(" and ", scopes.Select(s => $"`{s}`"));
        var sentence = optional ? $"Credentials are optional; a call with them needs {needs}." : $"Needs {needs}.";
        operation.Description = string.IsNullOrEmpty(operation.Description) ? sentence : $"{operation.Description}\n\n{sentence}";
        return true;
    }

    private static void DescribeProblem(OpenApiResponse response, IList<string> codes)
    {
        response.Description = string.Join("; ", codes.Select(code => $"`{code}`: {ErrorCodes.Title(code)}"));
        if (response.Content?.TryGetValue(ProblemContentType, out var media) == true)
        {
            var code = codes[0];
            media.Example = new JsonObject
            {
                ["type"] = $"https://imagebin.example/docs/errors/{code}",
                ["title"] = ErrorCodes.Title(code),
                ["status"] = ErrorCodes.Status(code),
                ["error"] = code,
                ["detail"] = "A sentence for people; match on `error`, not on this.",
            };
        }
    }

    private static Task TransformSchema(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
    {
        // The web JSON options read numbers from strings too; what the API writes are plain numbers.
        if (schema.Type is { } type && type.HasFlag(JsonSchemaType.String) && (type.HasFlag(JsonSchemaType.Integer) || type.HasFlag(JsonSchemaType.Number)))
        {
            schema.Type = type & ~JsonSchemaType.String;
            schema.Pattern = null;
        }

        var target = context.JsonTypeInfo.Type;
        if (target == typeof(ProblemBody))
        {
            OpenApiSchemas.Problem(schema);
        }
        else if (target == typeof(ItemDto) || target == typeof(OwnerItemDto))
        {
            OpenApiSchemas.Item(schema, owner: target == typeof(OwnerItemDto));
        }

        return Task.CompletedTask;
    }
}
