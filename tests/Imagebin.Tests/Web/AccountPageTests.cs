using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Imagebin.Infrastructure;
using Imagebin.Tests.Support;

namespace Imagebin.Tests.Web;

/// <summary>
/// The account page <c>/account</c> and its ShareX download over HTTP: signed-in only, the account's own keys, and a
/// <c>.sxcu</c> that is made only by a POST with the page's anti-forgery token and carries an upload-only key that works.
/// </summary>
public sealed class AccountPageTests
{
    private static FormUrlEncodedContent Form(string csrf) => new(new Dictionary<string, string> { ["csrf"] = csrf });

    private static async Task<JsonElement> KeysAsync(SignedInBrowser browser) =>
        (await browser.Client.GetFromJsonAsync<JsonElement>("/api/v1/account/keys")).GetProperty("keys");

    [Fact]
    public async Task Account_SignedOut_RedirectsToSignIn()
    {
        await using var app = new ImagebinApp();

        using var response = await app.Anonymous().GetAsync("/account");

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/account/signin?return_url=%2Faccount", response.Headers.Location!.OriginalString);
    }

    [Fact]
    public async Task Account_ListsOnlyTheAccountsOwnKeys_WithoutSecrets()
    {
        await using var app = new ImagebinApp();
        var aliceKey = await app.CreateKeyAsync("alice");
        var bobKey = await app.CreateKeyAsync("bob");
        using var alice = await SignedInBrowser.SignInAsync(app, "alice");

        var html = await alice.ReadPageAsync("/account");

        var aliceId = aliceKey["pbca_live_".Length..].Split('_')[0];
        var bobId = bobKey["pbca_live_".Length..].Split('_')[0];
        Assert.Contains($"data-key-id=\"{aliceId}\"", html);
        Assert.DoesNotContain(bobId, html);
        Assert.DoesNotContain(aliceKey, html);
        Assert.Contains("value=\"image:create\" checked", html);
        // Only an admin may give a key the admin scope, so only an admin is offered it.
        Assert.DoesNotContain("value=\"admin\"", html);
        using var admin = await SignedInBrowser.SignInAsync(app, "root", admin: true);
        Assert.Contains("value=\"admin\"", await admin.ReadPageAsync("/account"));
    }

    [Fact]
    public async Task ShareX_GivesAnUploaderWithAnUploadOnlyKey_ThatWorks()
    {
        await using var app = new ImagebinApp();
        using var browser = await SignedInBrowser.SignInAsync(app, "alice");
        await browser.ReadPageAsync("/account");

        using var response = await browser.Client.PostAsync("/account/sharex", Form(browser.CsrfToken));

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        Assert.Equal("attachment; filename=\"imagebin-localhost.sxcu\"", response.Content.Headers.ContentDisposition!.ToString());
        Assert.True(response.Headers.CacheControl!.NoStore);
        var uploader = JsonDocument.Parse(text).RootElement;
        Assert.Equal("ImageUploader", uploader.GetProperty("DestinationType").GetString());
        Assert.Equal("POST", uploader.GetProperty("RequestMethod").GetString());
        Assert.Equal($"{ImagebinApp.BaseUrl}/api/v1/items", uploader.GetProperty("RequestURL").GetString());
        Assert.Equal("MultipartFormData", uploader.GetProperty("Body").GetString());
        Assert.Equal("file", uploader.GetProperty("FileFormName").GetString());
        Assert.Equal("{json:url}", uploader.GetProperty("URL").GetString());
        Assert.Equal("{json:detail}", uploader.GetProperty("ErrorMessage").GetString());
        var authorization = uploader.GetProperty("Headers").GetProperty("Authorization").GetString()!;
        Assert.StartsWith("Bearer pbca_live_", authorization);

        var key = Assert.Single((await KeysAsync(browser)).EnumerateArray());
        Assert.Equal(["image:create"], key.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()));
        Assert.Equal(ImagebinApp.BaseUrl, key.GetProperty("audience").GetString());

        // ShareX's request: the file as a multipart part named "file", with the key.
        using var sharex = app.ClientWithKey(authorization["Bearer ".Length..]);
        using var multipart = new MultipartFormDataContent();
        var file = new ByteArrayContent(TestImages.Jpeg());
        file.Headers.ContentType = new("image/jpeg");
        multipart.Add(file, "file", "screenshot.jpg");
        using var upload = await sharex.PostAsync("/api/v1/items", multipart);
        Assert.Equal(HttpStatusCode.Created, upload.StatusCode);
        Assert.StartsWith(ImagebinApp.BaseUrl, (await upload.JsonAsync()).GetProperty("url").GetString());
        // Upload only: the key cannot list or delete.
        await (await sharex.GetAsync("/api/v1/account/items")).AssertErrorAsync(403, ErrorCodes.InsufficientScope);
    }

    [Fact]
    public async Task ShareX_IsPostOnly_NeedsTheToken_AndASession()
    {
        await using var app = new ImagebinApp();
        using var browser = await SignedInBrowser.SignInAsync(app, "alice");
        await browser.ReadPageAsync("/account");

        using (var get = await browser.Client.GetAsync("/account/sharex"))
        {
            Assert.True(get.StatusCode is HttpStatusCode.MethodNotAllowed or HttpStatusCode.NotFound, get.StatusCode.ToString());
        }

        using (var forged = await browser.Client.PostAsync("/account/sharex", Form("CfDJ8-not-a-token")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        }

        using (var json = await browser.Client.SendAsync(browser.Request(HttpMethod.Post, "/account/sharex", JsonContent.Create(new { csrf = browser.CsrfToken }))))
        {
            Assert.Equal(HttpStatusCode.BadRequest, json.StatusCode);
        }

        using (var anonymous = await app.Anonymous().PostAsync("/account/sharex", Form(browser.CsrfToken)))
        {
            Assert.Equal(HttpStatusCode.Redirect, anonymous.StatusCode);
            Assert.StartsWith("/account/signin", anonymous.Headers.Location!.OriginalString);
        }

        Assert.Empty((await KeysAsync(browser)).EnumerateArray());
    }
}
