using Imagebin.Features.Authority;
using Imagebin.Infrastructure;

namespace Imagebin.Features.Docs;

/// <summary>The user guide <c>/guide</c>: what happens to an image and who can see it.</summary>
public static class UserGuide
{
    public static string Body(SiteUrls site)
    {
        var b = Html.Encode(site.PublicBase);
        var direct = Html.Encode(site.DirectBase);
        return $"""
            <p>Imagebin keeps your images and gives you links to share them. This page explains who can see an image, what its
            links are, and what you can change.</p>

            <h2 id="public-private">Public and private images</h2>
            <p>A <strong>public</strong> image can be seen by anyone who has its link, and may appear in the site's gallery of recent
            images once it has passed moderation. A <strong>private</strong> image is seen only by you and by people you give its
            <strong>secret link</strong>: its links end in <code>?s=…</code>, a secret chosen at random. Without the right secret a private
            image answers "not found", exactly as if it did not exist, and its pages tell search engines not to index it. Anyone
            you give the secret link to can pass it on, so treat it like the image itself. You can make an image private or public
            at any time; the secret stays the same.</p>

            <h2 id="links">The three links</h2>
            <ul>
            <li><strong>Short link</strong> <code>{b}/ID</code>: the one to share. A browser gets the view page; an app that asks for
            an image gets the image.</li>
            <li><strong>View link</strong> <code>{b}/v/ID</code>: a page with the image, its title, description and tags, and ready-made
            snippets (Markdown, HTML, BBCode) for forums and chats; link previews show the image.</li>
            <li><strong>Direct link</strong> <code>{direct}/ID.jpg</code>: the image file itself, for embedding. It sets no cookies.</li>
            </ul>

            <h2 id="processing">What happens when you upload</h2>
            <p>GPS position, camera details and other metadata are removed from the file before it is stored; the picture itself is
            not re-compressed. Every image is checked by an automatic moderation scan before anyone but you can see it; until then
            others are told to try again in a moment. Images a moderator must look at stay visible only to you until they decide.</p>

            <h2 id="download-limits">Download limits</h2>
            <p>You can set a download limit: after that many full downloads of the image file the links answer "download limit
            reached". Thumbnails, page views and repeated requests a browser answers from its cache do not count. You can raise or
            clear the limit later. Images with a limit are never kept by shared caches, so the count stays exact.</p>

            <h2 id="expiry">Expiry</h2>
            <p>An image can be given a lifetime (from a minute to ten years) when you upload it. When it runs out the image is gone
            for good: its links answer "gone" and the file is deleted. Uploads made without an account expire after a while and
            come with a delete link. You can delete your own images at any time; they stop being served at once.</p>

            <h2 id="captions">AI captions and tags</h2>
            <p>After an image passes moderation, the site writes a short caption and tags for it, which help search and
            accessibility. By default this is done on the site's own server by a simple built-in describer (colours, shape, photo or
            drawing); an operator may connect a vision model instead. You can opt out for one image or for all your future uploads
            (your account's default): opting out removes any caption and tags already made and stops all caption work for that image.</p>

            <h2 id="your-images">Your images, keys and ShareX</h2>
            <p>Signed in, <strong>My images</strong> (<code>/dashboard</code>, in the header) lists your images newest first, with their moderation and caption
            state and their downloads; you can search and filter them, edit an image's title, description, tags, privacy, download
            limit and captions, and delete one or several at once (editing and deleting need JavaScript). The
            <strong>Account</strong> page (<code>/account</code>) makes and revokes API keys (a new key is shown only once: copy it then) and sets
            your default for AI captions.</p>
            <p><strong>ShareX</strong> (Windows): on the Account page, "Download the ShareX uploader" gives a <code>.sxcu</code>
            file; open it and ShareX adds Imagebin as a custom uploader. The file holds a new key of its own that can only upload
            (<code>image:create</code>, for <code>{b}/api/v1/items</code>), so keep it private; revoke that key on the Account page
            to cut ShareX off. Each download makes a new key.</p>

            <h2 id="reporting">Reporting an image</h2>
            <p>If an image breaks the law or the <a href="/terms">terms</a>, report it with <a href="/abuse/report">the report form</a> (no account needed), or the "Report this image" link under it; <a href="/abuse">the abuse page</a> says what happens next.
            Reports go to the site's moderators; an image reported by several people is hidden until a moderator has reviewed it.</p>

            <p>Developers and agents: see the <a href="/docs">developer guide</a>. How the site treats your data: <a href="/privacy">privacy</a>.</p>
            """;
    }
}
