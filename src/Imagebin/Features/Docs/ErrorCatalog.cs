using Imagebin.Infrastructure;

namespace Imagebin.Features.Docs;

/// <summary>What each error code of <see cref="ErrorCodes"/> means and what a client should do about it.</summary>
public static class ErrorCatalog
{
    public sealed record Entry(string Meaning, string WhatToDo);

    public static readonly IReadOnlyDictionary<string, Entry> Entries = new Dictionary<string, Entry>
    {
        [ErrorCodes.AuthRequired] = new(
            "The operation needs credentials and none came with the request.",
            "Send an API key as Authorization: Bearer pbca_live_…, or an OAuth access token. The WWW-Authenticate header names the protected-resource metadata, which names the authorization server."),
        [ErrorCodes.Unauthorized] = new(
            "The credentials do not allow this request.",
            "Check that you are signed in with the right account or key."),
        [ErrorCodes.InvalidToken] = new(
            "The API key or access token was refused: unknown, revoked, expired, made for another site or resource (audience), or a DPoP-bound token sent as Bearer.",
            "Get a new key or token for this site. An OAuth token for /mcp is not accepted by /api/v1 and the other way round; refresh the token or run the authorization flow again."),
        [ErrorCodes.AuthorityUnavailable] = new(
            "This node trusts an external authorization server and could not reach it to check the key or token (its metadata, keys or introspection endpoint did not answer).",
            "Keep the key or token: it was not refused. Retry after the Retry-After interval; if it lasts, tell the site's operator."),
        [ErrorCodes.InvalidDpopProof] = new(
            "The DPoP proof that came with a DPoP-bound token is missing or wrong: signature, htm, htu, iat window, ath or key thumbprint, or its jti was used before.",
            "Make a fresh proof for every request, signed with the key the token is bound to, with htm and htu of this request (without query), the current time and ath = SHA-256 of the token. If the answer asks for a nonce (use_dpop_nonce), include the DPoP-Nonce it sent."),
        [ErrorCodes.InsufficientScope] = new(
            "The key or token lacks a scope this operation needs; the WWW-Authenticate header names it.",
            "Use a key or token with that scope (image:create to upload or edit, image:read to read and list your images, image:delete to delete)."),
        [ErrorCodes.Forbidden] = new(
            "You may not do this, whatever your credentials' scopes (for example, the item is someone else's, or the request came from a foreign origin).",
            "Act on your own items only, and send browser requests from this site's pages."),
        [ErrorCodes.AccountBanned] = new(
            "The account is banned; its keys and tokens no longer work.",
            "Contact the site's operator (see the abuse and terms pages) if you think this is a mistake."),
        [ErrorCodes.InvalidJson] = new(
            "The request body is not valid JSON, or a member has the wrong type.",
            "Send a JSON object with Content-Type: application/json; the detail names the part that failed."),
        [ErrorCodes.InvalidRequest] = new(
            "A parameter, header or field is missing or out of range (for example an unknown filter value, a bad cursor or a width that is not offered).",
            "Read the detail, which names the parameter, and fix the request; do not retry it unchanged."),
        [ErrorCodes.RequestTooLarge] = new(
            "The body is larger than the upload limit (Limits:MaxUploadBytes, 25 MiB by default; Uploads:Anonymous:MaxBytes, 10 MiB, without an account).",
            "Send a smaller file: reduce its resolution or quality before uploading."),
        [ErrorCodes.UnsupportedMediaType] = new(
            "The body is not an image format the site accepts, judged from its bytes: JPEG, PNG, GIF, WebP and AVIF are; SVG, HEIC and anything else are not.",
            "Convert the image to one of the accepted formats."),
        [ErrorCodes.ImageTooLarge] = new(
            "The image's dimensions exceed the pixel or frame limits (Limits:MaxPixels per frame, MaxTotalPixels over all frames, MaxFrames).",
            "Scale the image down or send fewer frames."),
        [ErrorCodes.InvalidImage] = new(
            "The file claims to be an image but cannot be read as one (truncated or corrupt).",
            "Check the file opens in an image viewer, then upload it again."),
        [ErrorCodes.MethodNotAllowed] = new(
            "The path exists but not with this HTTP method (for example GET on an endpoint that only takes POST).",
            "Use the method the documentation gives for the endpoint."),
        [ErrorCodes.BadOrigin] = new(
            "A state-changing call authenticated only by the site's session cookie came without the page's anti-forgery token (the x-csrf-token header), with a wrong or expired one, or from another origin.",
            "In the browser, reload the page and try again. Scripts and agents send an API key or an access token instead of the cookie."),
        [ErrorCodes.RateLimited] = new(
            "Too many requests of this kind from you in a short time.",
            "Wait the number of seconds in the Retry-After header before trying again, and slow down."),
        [ErrorCodes.TurnstileFailed] = new(
            "An upload or report without credentials needs a browser challenge, and none came, or one that was wrong, expired, already used or issued for another purpose.",
            "Scripts and agents use an API key (agents can get one by proof of work); people use the web page, which solves the challenge."),
        [ErrorCodes.NotFound] = new(
            "Nothing is at this address, or it is a private item and the link's secret (?s=…) is missing or wrong: both answer the same.",
            "Check the id or link; for a private item, use the full link its owner shared."),
        [ErrorCodes.Gone] = new(
            "The item existed but was removed by a moderator or has expired. Once the periodic purge has deleted an expired item (within minutes), its links answer not_found, as a deleted item's do.",
            "Nothing to retry: the image is not coming back."),
        [ErrorCodes.DownloadLimitReached] = new(
            "The item's owner set a download limit and it has been reached.",
            "Ask the owner to raise or clear the limit (dl_limit)."),
        [ErrorCodes.ScanPending] = new(
            "The image was uploaded recently and its moderation scan has not passed yet; only its owner can see it until then.",
            "Wait the seconds in Retry-After and try again; scans usually finish within seconds."),
        [ErrorCodes.NotImplemented] = new(
            "The request asks for something this site does not offer, such as an oEmbed answer in a format other than JSON (the oEmbed spec's 501).",
            "Ask for format=json (or leave format out)."),
        [ErrorCodes.UploadsDisabled] = new(
            "The site's operator has turned uploads off for now.",
            "Try again later."),
        [ErrorCodes.InternalError] = new(
            "Something failed on the server's side; the answer carries no details on purpose.",
            "Retry later; if it keeps happening, tell the site's operator the time and the request you made."),
    };
}
