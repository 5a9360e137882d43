using System.Diagnostics.CodeAnalysis;

namespace Imagebin.Features.Authority;

/// <summary>A client's metadata, as its Client ID Metadata Document declares it and <see cref="ClientMetadataDocuments"/> validated it.</summary>
/// <param name="ClientId">The document's URL, which is the client_id.</param>
/// <param name="TokenEndpointAuthMethod">Always <c>none</c>: only public clients are accepted.</param>
public sealed record ClientMetadata(
    string ClientId,
    string? ClientName,
    string? ClientUri,
    string? LogoUri,
    IReadOnlyList<string> RedirectUris,
    IReadOnlyList<string> GrantTypes,
    IReadOnlyList<string> ResponseTypes,
    string TokenEndpointAuthMethod)
{
    /// <summary>Whether an authorization request may redirect to <paramref name="redirectUri"/> (see <see cref="RedirectUriRules.Matches"/>).</summary>
    public bool AllowsRedirectUri(string redirectUri) => RedirectUris.Any(registered => RedirectUriRules.Matches(registered, redirectUri));
}

/// <summary>A client's validated metadata, or the short reason its document was refused (fit to show the user).</summary>
public sealed class ClientMetadataResult
{
    private ClientMetadataResult(ClientMetadata? metadata, string? error)
    {
        Metadata = metadata;
        Error = error;
    }

    public ClientMetadata? Metadata { get; }

    public string? Error { get; }

    [MemberNotNullWhen(true, nameof(Metadata))]
    [MemberNotNullWhen(false, nameof(Error))]
    public bool Succeeded => Metadata is not null;

    public static ClientMetadataResult Success(ClientMetadata metadata) => new(metadata, null);

    public static ClientMetadataResult Failure(string error) => new(null, error);
}
