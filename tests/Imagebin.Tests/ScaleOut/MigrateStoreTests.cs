using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Imagebin.Data;
using Imagebin.Features.Admin;
using Imagebin.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Imagebin.Tests.ScaleOut;

/// <summary><c>migrate-store</c>: an embedded install moves to PostgreSQL + S3 with every item, key and blob intact.</summary>
public sealed class MigrateStoreTests
{
    [Fact]
    public async Task PopulatedEmbeddedStore_MovesToPostgresAndS3_Intact_AndASecondRunChangesNothing()
    {
        TestServices.Require();

        // An embedded install with two owners, a private item, a download limit and two items sharing one blob.
        using var embedded = new SharedStore(Backend.Embedded);
        string aliceKey, bobKey;
        var uploaded = new List<JsonElement>();
        await using (var app = embedded.Start(new() { ["Imagebin:Roles"] = "api,worker,authority" }))
        {
            aliceKey = await app.CreateKeyAsync("alice");
            bobKey = await app.CreateKeyAsync("bob");
            var alice = app.ClientWithKey(aliceKey);
            var bob = app.ClientWithKey(bobKey);
            var shared = TestImages.Jpeg(48, 32, seed: 1);
            uploaded.Add(await alice.UploadAsync(shared, configure: r => r.Headers.Add("x-title", "first")));
            uploaded.Add(await alice.UploadAsync(shared, configure: r => r.Headers.Add("x-private", "true")));
            uploaded.Add(await alice.UploadAsync(TestImages.Png(20, 20, seed: 2), "image/png", r => r.Headers.Add("x-dl-limit", "3")));
            uploaded.Add(await bob.UploadAsync(TestImages.Gif(16, 16, seed: 3), "image/gif", r => r.Headers.Add("x-tags", "cat,dog")));
            uploaded.Add(await bob.UploadAsync(TestImages.WebP(24, 24, seed: 4), "image/webp"));
            foreach (var item in uploaded.Take(3))
            {
                await alice.WaitForScanAsync(item.GetProperty("id").GetString()!);
            }

            foreach (var item in uploaded.Skip(3))
            {
                await bob.WaitForScanAsync(item.GetProperty("id").GetString()!);
            }
        }

        var sourceBlobs = Directory.GetFiles(Path.Combine(embedded.DataDir, "blobs"), "*", SearchOption.AllDirectories);
        Assert.Equal(4, sourceBlobs.Length);

        await using var target = new ImagebinApp(Backend.ScaleOut, settings: new() { ["Imagebin:Roles"] = "api,authority" });
        var first = await RunAsync(target, "migrate-store", "--from-data-dir", embedded.DataDir);
        Assert.True(first.Code == 0, first.Output + first.Errors);
        Assert.StartsWith("Copied 3 accounts, 2 keys, 5 items, 4 blobs", LastLine(first.Output));

        // Every blob in the bucket hashes to its name.
        var keys = await target.BlobKeysAsync();
        Assert.Equal(4, keys.Count);
        var store = target.Services.GetRequiredService<Imagebin.Storage.IBlobStore>();
        foreach (var key in keys)
        {
            await using var stream = await store.OpenReadAsync(key, 0, null, CancellationToken.None);
            Assert.Equal(key[(key.LastIndexOf('/') + 1)..], Convert.ToHexStringLower(await SHA256.HashDataAsync(stream)));
        }

        await AssertIntactAsync(target, uploaded, aliceKey, bobKey);

        // Safe to run twice: nothing copied, nothing duplicated, reference counts unchanged.
        var second = await RunAsync(target, "migrate-store", "--from-data-dir", embedded.DataDir);
        Assert.True(second.Code == 0, second.Output + second.Errors);
        Assert.StartsWith("Copied 0 accounts, 0 keys, 0 items, 0 blobs", LastLine(second.Output));
        await AssertIntactAsync(target, uploaded, aliceKey, bobKey);
    }

    [Fact]
    public async Task MissingSource_OrAnEmbeddedTarget_IsAClearError()
    {
        await using var embedded = new ImagebinApp(settings: new() { ["Imagebin:Roles"] = "api,authority" });
        var sameStore = await RunAsync(embedded, "migrate-store", "--from-data-dir", embedded.DataDir);
        Assert.Equal(2, sameStore.Code);
        Assert.Contains("configure the target", sameStore.Errors);

        var missing = await RunAsync(embedded, "migrate-store", "--from-data-dir", "/nonexistent/imagebin");
        Assert.Equal(2, missing.Code);
        Assert.Contains("No embedded store", missing.Errors);
    }

    private static async Task AssertIntactAsync(ImagebinApp target, List<JsonElement> uploaded, string aliceKey, string bobKey)
    {
        // The same keys work (hashes copied), and each owner sees exactly their items with their fields.
        foreach (var (key, owned) in new[] { (aliceKey, uploaded.Take(3)), (bobKey, uploaded.Skip(3)) })
        {
            var owner = target.ClientWithKey(key);
            var list = await owner.GetFromJsonAsync<JsonElement>("/api/v1/account/items");
            Assert.Equal(owned.Select(i => i.GetProperty("id").GetString()).Order(),
                list.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetString()).Order());
            foreach (var item in owned)
            {
                var id = item.GetProperty("id").GetString()!;
                var now = await owner.GetFromJsonAsync<JsonElement>($"/api/v1/items/{id}");
                foreach (var field in new[] { "title", "tags", "private", "dl_limit", "size_bytes", "mime_type", "scan_state", "direct_url", "view_url" })
                {
                    if (item.TryGetProperty(field, out var before) && field != "scan_state")
                    {
                        Assert.Equal(before.ToString(), now.GetProperty(field).ToString());
                    }
                }

                Assert.Equal("passed", now.GetProperty("scan_state").GetString());
            }
        }

        // Bytes served from the bucket are the uploaded (stripped) bytes: their hash is the item's blob.
        await using var db = await target.Services.GetRequiredService<IDbContextFactory<ImagebinDb>>().CreateDbContextAsync();
        foreach (var item in uploaded.Where(i => !i.GetProperty("private").GetBoolean() && i.GetProperty("dl_limit").ValueKind == JsonValueKind.Null))
        {
            var bytes = await target.Anonymous().GetByteArrayAsync(item.PathOf("direct_url"));
            var blob = (await db.Items.AsNoTracking().SingleAsync(i => i.Id == item.GetProperty("id").GetString())).BlobSha256;
            Assert.Equal(blob, Convert.ToHexStringLower(SHA256.HashData(bytes)));
        }

        Assert.Equal(5, await db.Items.CountAsync());
        Assert.Equal(4, await db.Blobs.CountAsync());
        Assert.Equal(2, (await db.Blobs.MaxAsync(b => b.RefCount)));
        Assert.Equal(5, await db.Blobs.SumAsync(b => b.RefCount));
    }

    private static async Task<(int Code, string Output, string Errors)> RunAsync(ImagebinApp app, params string[] args)
    {
        var output = new StringWriter();
        var errors = new StringWriter();
        var code = await AdminCommands.RunAsync(app.Services, args, output, errors);
        return (code, output.ToString(), errors.ToString());
    }

    private static string LastLine(string text) => text.TrimEnd().Split('\n').Last().Trim();
}
