using Imagebin.Infrastructure;

namespace Imagebin.Features.Discovery;

/// <summary>The error codes an endpoint can answer with, beyond those its authentication implies.</summary>
public sealed record ApiErrorsMetadata(IReadOnlyList<string> Codes);

/// <summary>
/// Credentials an endpoint checks in its handler rather than through <c>RequireAuthorization</c> (so that it can answer
/// with a code of its own, e.g. a keyless upload's <c>turnstile_failed</c>). <paramref name="Optional"/>: anonymous calls
/// are served too (a public item's metadata).
/// </summary>
public sealed record CredentialsMetadata(IReadOnlyList<string> Scopes, bool Optional);

/// <summary>
/// The request body a handler reads itself. Not <c>Accepts</c>: that metadata makes routing refuse other content types
/// with a bare 415, before the handler can answer with its problem+json.
/// </summary>
public sealed record RequestBodyMetadata(Type Type, IReadOnlyList<string> ContentTypes);

/// <summary>Annotations the OpenAPI document reads; none of them changes how a request is handled.</summary>
public static class OpenApiAnnotations
{
    /// <summary>
    /// Declares the <c>error</c> codes the endpoint answers with: one problem+json response per status (schema
    /// <c>Problem</c>), described with its codes. 401 and 403 of the credentials are added by the document itself.
    /// </summary>
    public static TBuilder ProducesErrors<TBuilder>(this TBuilder builder, params string[] codes) where TBuilder : IEndpointConventionBuilder
    {
        builder.WithMetadata(new ApiErrorsMetadata(codes));
        foreach (var status in codes.Select(ErrorCodes.Status).Distinct())
        {
            builder.WithMetadata(new ProducesResponseTypeMetadata(status, typeof(ProblemBody), [OpenApiTransformers.ProblemContentType]));
        }

        return builder;
    }

    /// <summary>Documents the request body; see <see cref="RequestBodyMetadata"/>.</summary>
    public static TBuilder DocumentsBody<TBody, TBuilder>(this TBuilder builder, params string[] contentTypes) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new RequestBodyMetadata(typeof(TBody), contentTypes));

    /// <summary>Documents the scopes a handler checks itself; see <see cref="CredentialsMetadata"/>.</summary>
    public static TBuilder DocumentsCredentials<TBuilder>(this TBuilder builder, bool optional, params string[] scopes) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new CredentialsMetadata(scopes, optional));
}
