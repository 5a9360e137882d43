using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace Imagebin.Features.Items;

/// <summary>An opaque keyset cursor: the (created_at, id) of the last item of a page, newest first.</summary>
public static class ListCursor
{
    public readonly record struct Position(long CreatedAt, string Id);

    public static string Encode(long createdAt, string id) =>
        Base64Url.EncodeToString(Encoding.ASCII.GetBytes($"{createdAt.ToString(CultureInfo.InvariantCulture)}.{id}"));

    public static bool TryDecode(string cursor, out Position position)
    {
        position = default;
        if (cursor.Length > 100 || !Base64Url.IsValid(cursor))
        {
            return false;
        }

        var text = Encoding.ASCII.GetString(Base64Url.DecodeFromChars(cursor));
        var dot = text.IndexOf('.');
        if (dot < 1 || !long.TryParse(text.AsSpan(0, dot), NumberStyles.None, CultureInfo.InvariantCulture, out var createdAt)
            || !Infrastructure.Ids.IsBase62(text.AsSpan(dot + 1)))
        {
            return false;
        }

        position = new Position(createdAt, text[(dot + 1)..]);
        return true;
    }
}
