using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Imagebin.Data;
using Imagebin.Features.Accounts;
using Imagebin.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace Imagebin.Tests.Browser;

/// <summary>
/// Uploading from the home page in Debian's Chromium: drop, picker (by mouse and by keyboard) and paste, progress per file,
/// the links and their copy buttons, the anonymous challenge solved by the page, and refusals that store nothing.
/// </summary>
public sealed class UploadPageTests(Chromium chromium) : IClassFixture<Chromium>
{
    private const string Password = "a long enough password";

    /// <summary>Builds a DataTransfer in the page holding PNG files given as base64, returned as a handle.</summary>
    private const string BuildTransfer = """
        (files) => {
          const transfer = new DataTransfer();
          for (const [name, type, base64] of files) {
            const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
            transfer.items.add(new File([bytes], name, { type }));
          }
          return transfer;
        }
        """;

    [Fact]
    public async Task SignedIn_DropsTwoFiles_SeesBothProgressBarsFull_CopiesMarkdown_AndTheViewPageShowsTheImage()
    {
        await using var site = LiveSite.Start();
        var (context, page, problems) = await OpenAsync();
        await using var disposeContext = context;
        await context.GrantPermissionsAsync(["clipboard-read", "clipboard-write"], new() { Origin = site.BaseUrl });
        await SignInAsync(site, page, "dora");
        await page.Locator("#drop-zone").WaitForAsync();

        var transfer = await page.EvaluateHandleAsync(BuildTransfer, new[]
        {
            new[] { "one.png", "image/png", Convert.ToBase64String(TestImages.Png(80, 60, seed: 1)) },
            new[] { "two.jpg", "image/jpeg", Convert.ToBase64String(TestImages.Jpeg(90, 70, seed: 2)) },
        });
        await page.DispatchEventAsync("#drop-zone", "drop", new Dictionary<string, object> { ["dataTransfer"] = transfer });

        await page.WaitForFunctionAsync("() => document.querySelectorAll('.upload-row .view-link').length === 2");
        // Full, and sized in bytes by the upload's progress events (the bar starts at max 1).
        Assert.True(await page.EvaluateAsync<bool>(
            "() => [...document.querySelectorAll('.upload-row progress')].every((p) => p.max > 100 && p.value === p.max)"));
        Assert.Equal(2, await CountItemsAsync(site));

        var row = page.Locator(".upload-row", new() { HasText = "one.png" });
        var direct = await row.Locator(".share-direct").InputValueAsync();
        var markdown = await row.Locator(".share-markdown").InputValueAsync();
        Assert.Matches(@"^!\[Image [0-9A-Za-z]+\]\(", markdown);
        Assert.EndsWith($"]({direct})", markdown);
        await row.GetByRole(AriaRole.Button, new() { Name = "Copy the Markdown" }).ClickAsync();
        Assert.Equal(markdown, await page.EvaluateAsync<string>("() => navigator.clipboard.readText()"));

        var id = new Uri(direct).Segments[^1].Split('.')[0];
        await WaitForScanAsync(site, id);
        await row.Locator(".view-link").ClickAsync();
        await page.WaitForURLAsync(site.Url($"/v/{id}"));
        await page.WaitForFunctionAsync("() => { const img = document.querySelector('main img'); return img && img.complete && img.naturalWidth > 0; }");
        Assert.Equal(80, await page.EvaluateAsync<int>("() => document.querySelector('main img').naturalWidth"));
        problems.AssertNone();
    }

    [Fact]
    public async Task SignedIn_PastesAnImage_AndGetsALink_OnA360PixelPhone()
    {
        await using var site = LiveSite.Start();
        var (context, page, problems) = await OpenAsync(width: 360, height: 740);
        await using var disposeContext = context;
        await SignInAsync(site, page, "pia");
        await page.Locator("#drop-zone").WaitForAsync();

        await page.EvaluateAsync("""
            (base64) => {
              const transfer = new DataTransfer();
              transfer.items.add(new File([Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))], "image.png", { type: "image/png" }));
              document.dispatchEvent(new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true, cancelable: true }));
            }
            """, Convert.ToBase64String(TestImages.Png(40, 30, seed: 3)));

        var link = page.Locator(".upload-row .share-link");
        await link.WaitForAsync();
        Assert.StartsWith(site.Url("/"), await link.InputValueAsync());
        Assert.Equal(1, await CountItemsAsync(site));
        // The result's fields and copy buttons fit the phone's width.
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"));
        problems.AssertNone();
    }

    [Fact]
    public async Task Anonymous_UploadSolvesTheChallenge_AndItsDeleteLinkWorks()
    {
        await using var site = LiveSite.Start();
        var (context, page, problems) = await OpenAsync();
        await using var disposeContext = context;
        await page.GotoAsync(site.Url("/"));
        await page.Locator("#drop-zone").WaitForAsync();
        Assert.Contains("deleted after 30 days", await page.Locator("#anonymous-terms").InnerTextAsync());
        var challenges = 0;
        page.Request += (_, request) => challenges += request.Url.EndsWith("/api/v1/uploads/challenge", StringComparison.Ordinal) ? 1 : 0;

        // Every status the row shows, as it changes.
        await page.EvaluateAsync("""
            () => {
              window.seenStatuses = [];
              new MutationObserver(() => document.querySelectorAll(".upload-status").forEach((s) => window.seenStatuses.push(s.textContent)))
                .observe(document.getElementById("upload-list"), { subtree: true, childList: true, characterData: true });
            }
            """);

        await page.Locator("#upload-files").SetInputFilesAsync(new FilePayload { Name = "anon.png", MimeType = "image/png", Buffer = TestImages.Png(50, 40, seed: 4) });

        var deleteField = page.Locator(".upload-row .share-delete");
        await deleteField.WaitForAsync();
        Assert.Equal(1, challenges);
        Assert.Equal(["Preparing upload…", "Uploading…", "Uploaded."], (await page.EvaluateAsync<string[]>("() => window.seenStatuses")).Where(s => s.Length > 0).Distinct());
        Assert.Contains("shown only this once", await page.Locator(".upload-row .warning").InnerTextAsync());
        var link = await page.Locator(".upload-row .share-link").InputValueAsync();
        var id = new Uri(link).Segments[^1];
        using var http = new HttpClient { BaseAddress = new Uri(site.BaseUrl) };
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"/api/v1/items/{id}")).StatusCode);

        await page.GotoAsync(await deleteField.InputValueAsync());
        await page.Locator("#delete-button:enabled").ClickAsync();
        await page.Locator("#delete-status", new() { HasText = "Deleted" }).WaitForAsync();
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"/api/v1/items/{id}")).StatusCode);
        problems.AssertNone();
    }

    [Fact]
    public async Task Anonymous_WithTurnstileConfigured_SendsTheWidgetsToken_InsteadOfSolvingAChallenge()
    {
        // Cloudflare cannot be reached from here: its widget script is replaced by one whose widget is already passed, and
        // siteverify by a stand-in on loopback that the server's real client calls.
        await using var siteverify = await SiteverifyStandIn.StartAsync(hostname: "127.0.0.1");
        await using var site = LiveSite.Start(siteverify.Settings());
        var (context, page, problems) = await OpenAsync();
        await using var disposeContext = context;
        var widgetScripts = 0;
        await page.RouteAsync("https://challenges.cloudflare.com/**", route =>
        {
            widgetScripts++;
            return route.FulfillAsync(new()
            {
                Status = 200,
                ContentType = "text/javascript",
                Body = "window.turnstile = { getResponse: () => 'good', reset: () => { window.turnstileResets = (window.turnstileResets || 0) + 1; } };",
            });
        });
        var challenges = 0;
        page.Request += (_, request) => challenges += request.Url.EndsWith("/api/v1/uploads/challenge", StringComparison.Ordinal) ? 1 : 0;
        await page.GotoAsync(site.Url("/"));
        await page.Locator("#drop-zone").WaitForAsync();

        await page.Locator("#upload-files").SetInputFilesAsync(new FilePayload { Name = "anon.png", MimeType = "image/png", Buffer = TestImages.Png(50, 40, seed: 9) });

        await page.Locator(".upload-row .share-delete").WaitForAsync();
        Assert.Equal(1, widgetScripts);
        Assert.Equal(0, challenges);
        Assert.Equal("good", Assert.Single(siteverify.Calls)["response"]);
        Assert.Equal(1, await page.EvaluateAsync<int>("() => window.turnstileResets"));
        problems.AssertNone();
    }

    [Fact]
    public async Task KeyboardOnly_TabsToThePicker_OpensItWithSpace_AndUploads()
    {
        await using var site = LiveSite.Start();
        var (context, page, problems) = await OpenAsync();
        await using var disposeContext = context;
        await SignInAsync(site, page, "kai");
        await page.Locator("#drop-zone").WaitForAsync();

        for (var presses = 0; await page.EvaluateAsync<string>("() => document.activeElement.id") != "upload-files"; presses++)
        {
            Assert.True(presses < 30, "Tab never reached the file picker");
            await page.Keyboard.PressAsync("Tab");
        }

        var chooser = await page.RunAndWaitForFileChooserAsync(() => page.Keyboard.PressAsync("Space"));
        Assert.True(chooser.IsMultiple);
        await chooser.SetFilesAsync(new FilePayload { Name = "keys.png", MimeType = "image/png", Buffer = TestImages.Png(30, 30, seed: 5) });

        await page.Locator(".upload-row .view-link").WaitForAsync();
        Assert.Equal(1, await CountItemsAsync(site));
        problems.AssertNone();
    }

    [Fact]
    public async Task BadInput_APdfAndOverLimitFiles_ShowClearMessages_AndStoreNothing()
    {
        await using var site = LiveSite.Start(new() { ["Uploads:Anonymous:MaxBytes"] = "20000", ["Uploads:Anonymous:DifficultyBits"] = "8" });
        var (context, page, problems) = await OpenAsync();
        await using var disposeContext = context;
        var posts = new List<string>();
        page.Request += (_, request) =>
        {
            if (request.Method == "POST")
            {
                lock (posts)
                {
                    posts.Add(request.Url);
                }
            }
        };
        await page.GotoAsync(site.Url("/"));
        await page.Locator("#drop-zone").WaitForAsync();
        Assert.Contains("up to 19.5 KB per image", await page.Locator("#anonymous-terms").InnerTextAsync());

        var transfer = await page.EvaluateHandleAsync(BuildTransfer, new[]
        {
            new[] { "doc.pdf", "application/pdf", Convert.ToBase64String("%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"u8.ToArray()) },
            new[] { "big.png", "image/png", Convert.ToBase64String(RandomNumberGenerator.GetBytes(30_000)) },
        });
        await page.DispatchEventAsync("#drop-zone", "drop", new Dictionary<string, object> { ["dataTransfer"] = transfer });

        var pdf = page.Locator(".upload-row.failed", new() { HasText = "doc.pdf" });
        var big = page.Locator(".upload-row.failed", new() { HasText = "big.png" });
        await pdf.WaitForAsync();
        await big.WaitForAsync();
        Assert.Matches("Not uploaded: .*(image|format|type)", await pdf.Locator(".upload-status").InnerTextAsync());
        Assert.Contains("the limit is 19.5 KB per image. Sign in to upload larger images.", await big.Locator(".upload-status").InnerTextAsync());
        lock (posts)
        {
            Assert.Single(posts);
        }

        await AssertNothingStoredAsync(site);
        problems.AssertNone(failedRequestTo: "/api/v1/");
    }

    [Fact]
    public async Task OverLimit_WhenThePageDoesNotCatchIt_TheServers413IsShown_AndNothingIsStored()
    {
        await using var site = LiveSite.Start(new() { ["Uploads:Anonymous:MaxBytes"] = "20000", ["Uploads:Anonymous:DifficultyBits"] = "8" });
        var (context, page, problems) = await OpenAsync();
        await using var disposeContext = context;
        // An old or tampered page that states a higher limit than the server's.
        await page.RouteAsync(site.Url("/"), async route =>
        {
            var response = await route.FetchAsync();
            var html = (await response.TextAsync()).Replace("data-max-bytes=\"20000\"", "data-max-bytes=\"100000000\"", StringComparison.Ordinal);
            await route.FulfillAsync(new() { Response = response, Body = html });
        });
        await page.GotoAsync(site.Url("/"));
        await page.Locator("#drop-zone").WaitForAsync();

        await page.Locator("#upload-files").SetInputFilesAsync(new FilePayload { Name = "large.png", MimeType = "image/png", Buffer = RandomNumberGenerator.GetBytes(200_000) });

        var row = page.Locator(".upload-row.failed");
        await row.WaitForAsync();
        Assert.Contains("Uploads without an account are limited to 20,000 bytes", await row.InnerTextAsync());
        await AssertNothingStoredAsync(site);
        problems.AssertNone(failedRequestTo: "/api/v1/");
    }

    [Fact]
    public async Task SignedIn_A100MegabyteFile_IsRefusedByThePageBeforeSending_AndNothingIsStored()
    {
        await using var site = LiveSite.Start();
        var path = Path.Combine(site.App.DataDir, "huge.png");
        await using (var file = File.Create(path))
        {
            file.SetLength(100L * 1024 * 1024);
        }

        var (context, page, problems) = await OpenAsync();
        await using var disposeContext = context;
        var posts = 0;
        page.Request += (_, request) => posts += request.Method == "POST" && request.Url.Contains("/api/v1/items", StringComparison.Ordinal) ? 1 : 0;
        await SignInAsync(site, page, "hugo");
        await page.Locator("#drop-zone").WaitForAsync();

        await page.Locator("#upload-files").SetInputFilesAsync(path);

        var row = page.Locator(".upload-row.failed");
        await row.WaitForAsync();
        Assert.Contains("huge.png is 100.0 MB; the limit is 25 MB per image.", await row.InnerTextAsync());
        Assert.True(await row.Locator("progress").IsHiddenAsync());
        Assert.Equal(0, posts);
        await AssertNothingStoredAsync(site);
        problems.AssertNone();
    }

    [Fact]
    public async Task SignedIn_WithATamperedCsrfToken_ShowsTheBadOriginMessage_AndStoresNothing()
    {
        await using var site = LiveSite.Start();
        var (context, page, problems) = await OpenAsync();
        await using var disposeContext = context;
        await SignInAsync(site, page, "tom");
        await page.Locator("#drop-zone").WaitForAsync();
        await page.EvaluateAsync("() => { document.querySelector('meta[name=\"csrf-token\"]').content = 'tampered'; }");

        await page.Locator("#upload-files").SetInputFilesAsync(new FilePayload { Name = "forged.png", MimeType = "image/png", Buffer = TestImages.Png(30, 30, seed: 6) });

        var row = page.Locator(".upload-row.failed");
        await row.WaitForAsync();
        Assert.Contains("This request did not come from this site's pages", await row.InnerTextAsync());
        await AssertNothingStoredAsync(site);
        problems.AssertNone(failedRequestTo: "/api/v1/");
    }

    [Fact]
    public async Task PageSha256_AgreesWithDotNet_AndWithTheTestsSolver()
    {
        await using var site = LiveSite.Start();
        var (context, page, problems) = await OpenAsync();
        await using var disposeContext = context;
        await page.GotoAsync(site.Url("/"));
        await page.Locator("#drop-zone").WaitForAsync();

        // One block, the padding edge (55/56 bytes) and two blocks.
        foreach (var text in new[] { "", "abc", new string('x', 55), new string('y', 56), "AAAAAAAAAAAAAAAAAAAAAA" + "123456789", new string('z', 130) })
        {
            var hash = SHA256.HashData(Encoding.ASCII.GetBytes(text));
            var expected = (uint)(hash[0] << 24 | hash[1] << 16 | hash[2] << 8 | hash[3]);
            Assert.Equal(expected, await page.EvaluateAsync<uint>("(text) => Imagebin.powFirstWord(text)", text));
        }

        const string prefix = "Ab-_0123456789abcdefgh";
        var nonce = await page.EvaluateAsync<string>("(prefix) => Imagebin.solvePow({ prefix, difficulty_bits: 12 })", prefix);
        Assert.True(PowSolver.Work(prefix, nonce) >= 12);
        Assert.True(long.TryParse(nonce, NumberStyles.None, CultureInfo.InvariantCulture, out _));
        problems.AssertNone();
    }

    [Fact]
    public async Task WithoutJavaScript_ThePageSaysUploadNeedsIt_AndTheGalleryWorks()
    {
        await using var site = LiveSite.Start();
        await using (var scope = site.App.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<ImagebinDb>();
            db.Items.Add(new Item { Id = "galleryIt01", BlobSha256 = new string('a', 64), ContentType = "image/png", Extension = "png", Width = 10, Height = 10, CreatedAt = 1, ScanState = ScanState.Passed });
            await db.SaveChangesAsync();
        }

        await using var context = await chromium.Browser.NewContextAsync(new() { JavaScriptEnabled = false });
        var page = await context.NewPageAsync();

        await page.GotoAsync(site.Url("/"));

        // Chromium's parser still takes <noscript> as scripting-enabled markup when a context turns scripts off, so its
        // text is checked, not its visibility.
        Assert.Contains("Uploading from this page needs JavaScript", await page.Locator("noscript").TextContentAsync());
        Assert.True(await page.Locator("#upload-form").IsHiddenAsync());
        Assert.Equal("/v/galleryIt01", await page.Locator(".gallery a").GetAttributeAsync("href"));
    }

    private async Task<(IBrowserContext Context, IPage Page, Problems Problems)> OpenAsync(int width = 1280, int height = 800)
    {
        var context = await chromium.NewContextAsync(width, height);
        var page = await context.NewPageAsync();
        return (context, page, Problems.Watch(page));
    }

    private static async Task SignInAsync(LiveSite site, IPage page, string name)
    {
        await using (var scope = site.App.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<AccountService>().CreateAsync(name, admin: false, Password, CancellationToken.None);
        }

        await page.GotoAsync(site.Url("/account/signin?return_url=%2F"));
        await page.Locator("#name").FillAsync(name);
        await page.Locator("#password").FillAsync(Password);
        await page.Locator("#password").PressAsync("Enter");
        // Not the load event: that also waits for every gallery thumbnail, which the tests do not need.
        await page.WaitForURLAsync(site.Url("/"), new() { WaitUntil = WaitUntilState.DOMContentLoaded });
    }

    private static async Task<int> CountItemsAsync(LiveSite site)
    {
        await using var scope = site.App.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<ImagebinDb>().Items.CountAsync();
    }

    private static async Task WaitForScanAsync(LiveSite site, string id)
    {
        var deadline = DateTime.UtcNow + Chromium.Timeout;
        while (true)
        {
            await using (var scope = site.App.Services.CreateAsyncScope())
            {
                var state = await scope.ServiceProvider.GetRequiredService<ImagebinDb>().Items.Where(i => i.Id == id).Select(i => i.ScanState).SingleAsync();
                if (state == ScanState.Passed)
                {
                    return;
                }
            }

            Assert.True(DateTime.UtcNow < deadline, $"{id} was not scanned in time");
            await Task.Delay(100);
        }
    }

    private static async Task AssertNothingStoredAsync(LiveSite site)
    {
        Assert.Equal(0, await CountItemsAsync(site));
        Assert.Empty(site.App.BlobFiles());
        Assert.Empty(site.App.TempFiles());
    }
}
