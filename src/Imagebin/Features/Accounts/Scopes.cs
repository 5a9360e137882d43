namespace Imagebin.Features.Accounts;

public static class Scopes
{
    public const string ImageCreate = "image:create";
    public const string ImageRead = "image:read";
    public const string ImageDelete = "image:delete";

    /// <summary>Moderation and site administration; granted only to keys and tokens of admin accounts.</summary>
    public const string Admin = "admin";

    /// <summary>The scopes any account's key may carry.</summary>
    public static readonly string[] All = [ImageCreate, ImageRead, ImageDelete];

    /// <summary>Every scope, <see cref="Admin"/> included.</summary>
    public static readonly string[] Known = [ImageCreate, ImageRead, ImageDelete, Admin];
}

/// <summary>Claim types of an authenticated caller.</summary>
public static class ImagebinClaims
{
    public const string Subject = "sub";
    public const string Name = "name";
    public const string Role = "role";
    public const string Scope = "scope";
    public const string KeyId = "key_id";
}
