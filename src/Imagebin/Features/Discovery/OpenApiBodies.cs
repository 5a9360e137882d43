namespace Imagebin.Features.Discovery;

// The JSON bodies that handlers parse member by member (to tell an absent member from null, and to name unknown ones);
// these types exist only to describe them in the OpenAPI document.

/// <summary>A merge patch of an item: only the members sent change; null clears a text field or the download limit.</summary>
public sealed record ItemPatchRequest(
    string? Title, string? Description, string[]? Tags, string? Category, bool? Private, long? DlLimit, bool? AiOptout);

/// <summary>The account's defaults for new uploads.</summary>
public sealed record AccountPatchRequest(bool? AiOptout);

/// <summary>A new API key: its scopes (at most those of the credential making it), audience and lifetime in seconds.</summary>
public sealed record ApiKeyCreateRequest(string[] Scopes, string? Audience, long? ExpiresIn);

/// <summary>Client metadata for dynamic registration (RFC 7591); public clients only.</summary>
public sealed record ClientRegistrationRequest(string[] RedirectUris, string? ClientName, string[]? GrantTypes, string[]? ResponseTypes, string? TokenEndpointAuthMethod);

/// <summary>The registered client (RFC 7591 §3.2.1).</summary>
public sealed record ClientRegistrationResponse(
    string ClientId, long ClientIdIssuedAt, string ClientName, string[] RedirectUris, string[] GrantTypes, string[] ResponseTypes, string TokenEndpointAuthMethod);

/// <summary>An OAuth error (RFC 6749 §5.2 shape), as the registration endpoint answers.</summary>
public sealed record OAuthErrorResponse(string Error, string ErrorDescription);
