using Imagebin.Features.Authority;

namespace Imagebin.Features.Web;

/// <summary>
/// The page behind an anonymous upload's <c>delete_url</c> (<c>/delete/{id}#token=…</c>): its script reads the token from
/// the fragment, which no request carries, takes it out of the address bar, and on the button sends
/// <c>DELETE /api/v1/items/{id}</c> with <c>x-delete-token</c>. The page itself reads nothing: it looks the same for any
/// id, so holding the id alone tells nothing about the image.
/// </summary>
public static class DeletePage
{
    public static IEndpointRouteBuilder MapDeletePage(this IEndpointRouteBuilder app)
    {
        app.MapGet("/delete/{id}", Show).ExcludeFromDescription();
        return app;
    }

    private static IResult Show(string id) => Html.ScriptPage("Delete this image?", Body(id), SiteAssets.DeleteScriptPath);

    private static string Body(string id) =>
        $"""
        <p>Image <code>{Html.Encode(id)}</code> will be deleted for good: its links stop working. This cannot be undone.</p>
        <p><button type="button" id="delete-button" data-item-id="{Html.Encode(id)}" disabled>Delete</button></p>
        <p id="delete-status" role="status" aria-live="polite"></p>
        <noscript><p>This page needs JavaScript: the link's secret part stays in your browser and is sent only by the page's script.</p></noscript>
        """;
}
