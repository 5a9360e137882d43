using System.Security.Cryptography;

namespace Imagebin.Infrastructure;

/// <summary>Random base62 identifiers and secrets.</summary>
public static class Ids
{
    private const string Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    /// <summary>An item id: 10 random base62 characters (≈ 59.5 bits), never sequential.</summary>
    public static string NewItemId() => RandomBase62(10);

    public static string RandomBase62(int length) => RandomNumberGenerator.GetString(Alphabet, length);

    public static bool IsBase62(ReadOnlySpan<char> value)
    {
        foreach (var c in value)
        {
            if (!char.IsAsciiLetterOrDigit(c))
            {
                return false;
            }
        }

        return value.Length > 0;
    }
}
