using System.Net;
using System.Net.Sockets;
using System.Net.Http.Json;
using System.Text.Json;
using Imagebin.Tests.Support;
using Microsoft.Playwright;

namespace Imagebin.Tests.Browser;

/// <summary>
/// The owner's dashboard in Debian's Chromium: editing, deleting one image or several after one confirmation, the API's
/// refusals shown beside the form, a tampered anti-forgery token, and editing by keyboard alone; every change checked
/// through the REST API.
/// </summary>
public sealed class DashboardTests(Chromium chromium) : IClassFixture<Chromium>
{
    [Fact]
    public async Task Edit_ChangesTitleTagsAndPrivacy_AsTheApiSeesThem()
    {
        await using var owner = await SignedInOwner.StartAsync(chromium);
        var id = await owner.UploadAsync("before");
        var page = await owner.OpenAsync("/dashboard");
        var row = page.Locator($"#item-{id}");

        await row.Locator("summary").ClickAsync();
        await row.GetByLabel("Title").FillAsync("after <b>edit</b>");
        await row.GetByLabel("Tags (comma-separated)").FillAsync("sea, sky");
        await row.GetByLabel("Private (making it private changes its links)").CheckAsync();
        await row.GetByRole(AriaRole.Button, new() { Name = "Save" }).ClickAsync();

        await row.Locator(".edit-status", new() { HasText = "Saved." }).WaitForAsync();
        var item = await owner.Api.GetFromJsonAsync<JsonElement>($"/api/v1/items/{id}");
        Assert.Equal("after <b>edit</b>", item.GetProperty("title").GetString());
        Assert.Equal(["sea", "sky"], item.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
        Assert.True(item.GetProperty("private").GetBoolean());
        Assert.Equal("after <b>edit</b>", await row.Locator(".dash-title a").TextContentAsync());
        Assert.True(await row.Locator(".badge-private").IsVisibleAsync());
        // The row's links follow the new share secret of a private image.
        Assert.Equal(item.GetProperty("view_url").GetString()!.Split('?')[1], (await row.Locator(".dash-title a").GetAttributeAsync("href"))!.Split('?')[1]);
        // So does its thumbnail, a variant that carries the new secret, and it loads.
        var direct = item.GetProperty("direct_url").GetString()!;
        Assert.Equal($"{direct}&w=320", await row.Locator(".dash-thumb img").GetAttributeAsync("src"));
        await row.Locator(".dash-thumb img").EvaluateAsync(
            "img => new Promise(resolve => { const done = () => img.complete && img.naturalWidth > 0 && img.currentSrc.includes('s='); if (done()) resolve(); else img.addEventListener('load', () => resolve(), { once: true }); })");

        // A second edit sends only what changed: "private" again would mint another secret and break the links given out.
        await row.GetByLabel("Title").FillAsync("again");
        await row.GetByRole(AriaRole.Button, new() { Name = "Save" }).ClickAsync();
        await row.Locator(".edit-status", new() { HasText = "Saved." }).WaitForAsync();
        var again = await owner.Api.GetFromJsonAsync<JsonElement>($"/api/v1/items/{id}");
        Assert.Equal("again", again.GetProperty("title").GetString());
        Assert.Equal(item.GetProperty("view_url").GetString(), again.GetProperty("view_url").GetString());
        owner.Problems.AssertNone();
    }

    [Fact]
    public async Task Delete_AfterConfirming_RemovesTheImage_AndBulkDeleteRemovesTheSelected()
    {
        await using var owner = await SignedInOwner.StartAsync(chromium);
        var kept = await owner.UploadAsync("kept", seed: 1);
        var single = await owner.UploadAsync("single", seed: 2);
        var firstOfTwo = await owner.UploadAsync("first of two", seed: 3);
        var secondOfTwo = await owner.UploadAsync("second of two", seed: 4);
        var page = await owner.OpenAsync("/dashboard");
        var dialog = page.Locator("#confirm-dialog");

        // Cancelling keeps it.
        await page.Locator($"#item-{single} .delete-item").ClickAsync();
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Cancel" }).ClickAsync();
        await dialog.WaitForAsync(new() { State = WaitForSelectorState.Hidden });
        Assert.Equal(HttpStatusCode.OK, (await owner.Api.GetAsync($"/api/v1/items/{single}")).StatusCode);

        await page.Locator($"#item-{single} .delete-item").ClickAsync();
        Assert.Contains("single", await dialog.Locator("#confirm-text").TextContentAsync());
        await page.Locator("#confirm-delete").ClickAsync();
        await page.Locator("#dash-status", new() { HasText = "Deleted 1 image." }).WaitForAsync();
        Assert.Equal(0, await page.Locator($"#item-{single}").CountAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await owner.Api.GetAsync($"/api/v1/items/{single}")).StatusCode);

        await page.Locator($"#select-{firstOfTwo}").CheckAsync();
        await page.Locator($"#select-{secondOfTwo}").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Delete selected (2)" }).ClickAsync();
        Assert.Contains("2 selected images", await dialog.Locator("#confirm-text").TextContentAsync());
        await page.Locator("#confirm-delete").ClickAsync();

        await page.Locator("#dash-status", new() { HasText = "Deleted 2 images." }).WaitForAsync();
        Assert.Equal(HttpStatusCode.NotFound, (await owner.Api.GetAsync($"/api/v1/items/{firstOfTwo}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await owner.Api.GetAsync($"/api/v1/items/{secondOfTwo}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await owner.Api.GetAsync($"/api/v1/items/{kept}")).StatusCode);
        await page.ReloadAsync();
        Assert.Equal([$"item-{kept}"], await page.Locator(".dash-item").EvaluateAllAsync<string[]>("rows => rows.map(r => r.id)"));
        owner.Problems.AssertNone();
    }

    [Theory]
    [InlineData("dl_limit", "-1", "'dl_limit' must be from 1 to")]
    [InlineData("title", "long", "'title' is 10000 characters long")]
    public async Task InvalidEdit_ShowsTheApisMessage_AndChangesNothing(string field, string value, string message)
    {
        await using var owner = await SignedInOwner.StartAsync(chromium);
        var id = await owner.UploadAsync("unchanged");
        var page = await owner.OpenAsync("/dashboard");
        var row = page.Locator($"#item-{id}");

        await row.Locator("summary").ClickAsync();
        await row.GetByLabel("Tags (comma-separated)").FillAsync("should-not-stick");
        await row.Locator($"[name={field}]").FillAsync(value == "long" ? new string('x', 10_000) : value);
        await row.GetByRole(AriaRole.Button, new() { Name = "Save" }).ClickAsync();

        await row.Locator(".edit-status.error", new() { HasText = message }).WaitForAsync();
        var item = await owner.Api.GetFromJsonAsync<JsonElement>($"/api/v1/items/{id}");
        Assert.Equal("unchanged", item.GetProperty("title").GetString());
        Assert.Empty(item.GetProperty("tags").EnumerateArray());
        owner.Problems.AssertNone(failedRequestTo: "/api/v1/", status: 400);
    }

    [Fact]
    public async Task TamperedToken_IsRefusedAsBadOrigin_AndChangesNothing()
    {
        await using var owner = await SignedInOwner.StartAsync(chromium);
        var id = await owner.UploadAsync("untouched");
        var page = await owner.OpenAsync("/dashboard");
        var row = page.Locator($"#item-{id}");
        await page.EvaluateAsync("() => document.querySelector('meta[name=\"csrf-token\"]').content = 'CfDJ8-tampered'");

        await row.Locator("summary").ClickAsync();
        await row.GetByLabel("Title").FillAsync("tampered");
        await row.GetByRole(AriaRole.Button, new() { Name = "Save" }).ClickAsync();
        await row.Locator(".edit-status.error", new() { HasText = "did not come from this site's pages" }).WaitForAsync();

        await page.Locator($"#item-{id} .delete-item").ClickAsync();
        await page.Locator("#confirm-delete").ClickAsync();
        await page.Locator("#dash-status", new() { HasText = "Not deleted: untouched: This request did not come from this site" }).WaitForAsync();

        var item = await owner.Api.GetFromJsonAsync<JsonElement>($"/api/v1/items/{id}");
        Assert.Equal("untouched", item.GetProperty("title").GetString());
        Assert.Equal(1, await page.Locator($"#item-{id}").CountAsync());
        owner.Problems.AssertNone(failedRequestTo: "/api/v1/", status: 403);
    }

    [Fact]
    public async Task Edit_ByKeyboardOnly_SavesTheTitle()
    {
        await using var owner = await SignedInOwner.StartAsync(chromium);
        var id = await owner.UploadAsync("typed by mouse");
        var page = await owner.OpenAsync("/dashboard");

        await TabUntilAsync(page, $"#item-{id} summary");
        await page.Keyboard.PressAsync("Enter");
        await TabUntilAsync(page, $"#edit-title-{id}");
        await page.Keyboard.PressAsync("Control+A");
        await page.Keyboard.TypeAsync("typed by keyboard");
        await page.Keyboard.PressAsync("Enter");

        await page.Locator($"#item-{id} .edit-status", new() { HasText = "Saved." }).WaitForAsync();
        var item = await owner.Api.GetFromJsonAsync<JsonElement>($"/api/v1/items/{id}");
        Assert.Equal("typed by keyboard", item.GetProperty("title").GetString());

        // Deleting by keyboard too: the dialog takes Tab and Enter, Escape cancels.
        await TabUntilAsync(page, $"#item-{id} .delete-item");
        await page.Keyboard.PressAsync("Enter");
        await page.Locator("#confirm-dialog[open]").WaitForAsync();
        await page.Keyboard.PressAsync("Escape");
        await page.Locator("#confirm-dialog").WaitForAsync(new() { State = WaitForSelectorState.Hidden });
        Assert.Equal(HttpStatusCode.OK, (await owner.Api.GetAsync($"/api/v1/items/{id}")).StatusCode);
        owner.Problems.AssertNone();
    }

    [Fact]
    public async Task Dashboard_LoadsCleanly_AndFitsA360PixelPhone()
    {
        await using var owner = await SignedInOwner.StartAsync(chromium, width: 360, height: 740);
        await owner.UploadAsync(new string('w', 200));
        var page = await owner.OpenAsync("/dashboard");
        await page.Locator(".dash-item img").EvaluateAsync("img => img.complete || new Promise(r => img.onload = r)");

        Assert.True(await page.Locator(".dash-item img").EvaluateAsync<bool>("img => img.naturalWidth > 0"), "the image did not load");
        var (scrollWidth, clientWidth) = (
            await page.EvaluateAsync<int>("document.documentElement.scrollWidth"),
            await page.EvaluateAsync<int>("document.documentElement.clientWidth"));
        Assert.True(scrollWidth <= clientWidth, $"/dashboard is {scrollWidth} px wide in a {clientWidth} px viewport");
        owner.Problems.AssertNone();
    }

    internal static async Task TabUntilAsync(IPage page, string selector)
    {
        for (var presses = 0; presses < 60; presses++)
        {
            if (await page.Locator(selector).EvaluateAsync<bool>("e => e === document.activeElement"))
            {
                return;
            }

            await page.Keyboard.PressAsync("Tab");
        }

        Assert.Fail($"{selector} cannot be reached with the Tab key");
    }
}

/// <summary>
/// A <see cref="LiveSite"/> with an account signed in through the form in a fresh Chromium context, and a key of that
/// account for checks.
/// </summary>
internal sealed class SignedInOwner : IAsyncDisposable
{
    private SignedInOwner(LiveSite site, IBrowserContext context, HttpClient api)
    {
        Site = site;
        Context = context;
        Api = api;
    }

    public LiveSite Site { get; }

    public ImagebinApp App => Site.App;

    /// <summary>The site's origin, <c>http://127.0.0.1:PORT</c>, which is also its public base URL.</summary>
    public string BaseUrl => Site.BaseUrl;

    public IBrowserContext Context { get; }

    /// <summary>The account's own REST client (a key with every image scope) on the live site.</summary>
    public HttpClient Api { get; }

    public Problems Problems { get; private set; } = new();

    public string Url(string path) => Site.Url(path);

    public static async Task<SignedInOwner> StartAsync(Chromium chromium, string account = "alice", int width = 1280, int height = 800)
    {
        var site = LiveSite.Start();
        var api = new HttpClient { BaseAddress = new Uri(site.BaseUrl) };
        api.DefaultRequestHeaders.Authorization = new("Bearer", await site.App.CreateKeyAsync(account));
        var context = await chromium.NewContextAsync(width, height);
        await site.SignInAsync(context, account);
        return new SignedInOwner(site, context, api);
    }

    /// <summary>A new page at <paramref name="path"/>, watched for console errors, once its script has run.</summary>
    public async Task<IPage> OpenAsync(string path)
    {
        var page = await Context.NewPageAsync();
        Problems = Problems.Watch(page);
        var response = await page.GotoAsync(Url(path), new() { WaitUntil = WaitUntilState.Load });
        Assert.Equal(200, response!.Status);
        return page;
    }

    public async Task<string> UploadAsync(string title, int seed = 1)
    {
        var item = await Api.UploadAsync(TestImages.Jpeg(seed: seed), configure: request => request.Headers.Add("x-title", Uri.EscapeDataString(title)));
        var id = item.GetProperty("id").GetString()!;
        await Api.WaitForScanAsync(id);
        return id;
    }

    public async ValueTask DisposeAsync()
    {
        Api.Dispose();
        await Context.DisposeAsync();
        await Site.DisposeAsync();
    }
}
