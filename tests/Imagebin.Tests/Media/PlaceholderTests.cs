using System.Net.Http.Json;
using System.Text.Json;
using Imagebin.Features.Media;
using Imagebin.Tests.Support;
using NetVips;

namespace Imagebin.Tests.Media;

/// <summary>The pipeline's placeholder (a ThumbHash) on the Item, and who gets it.</summary>
public sealed class PlaceholderTests
{
    [Theory]
    [BackendsInlineData("image/jpeg")]
    [BackendsInlineData("image/png")]
    [BackendsInlineData("image/gif")]
    public async Task Scan_StoresAPlaceholder_OfThePicturesShape(Backend backend, string contentType)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var bytes = contentType switch
        {
            "image/jpeg" => TestImages.Jpeg(300, 100),
            "image/png" => TestImages.Png(300, 100),
            _ => TestImages.Gif(300, 100),
        };

        var uploaded = await owner.UploadAsync(bytes, contentType);
        Assert.Equal(JsonValueKind.Null, uploaded.GetProperty("placeholder").ValueKind);
        var item = await owner.WaitForScanAsync(uploaded.GetProperty("id").GetString()!);

        Assert.Equal("passed", item.GetProperty("scan_state").GetString());
        var hash = Convert.FromBase64String(item.GetProperty("placeholder").GetString()!);
        Assert.InRange(hash.Length, 5, 40);
        Assert.Equal(3.0, ThumbHash.ApproximateAspectRatio(hash), 0.5);
        var anyone = await app.Anonymous().GetFromJsonAsync<JsonElement>($"/api/v1/items/{item.GetProperty("id").GetString()}");
        Assert.Equal(item.GetProperty("placeholder").GetString(), anyone.GetProperty("placeholder").GetString());
    }

    [Fact]
    public async Task Placeholder_OfAnExifRotatedJpeg_IsUpright()
    {
        await using var app = new ImagebinApp();
        var owner = await app.OwnerAsync();

        // 64 × 48 stored pixels with orientation 6: displayed 48 wide and 64 high.
        var item = await owner.WaitForScanAsync((await owner.UploadAsync(TestImages.JpegWithGps(64, 48))).GetProperty("id").GetString()!);

        Assert.True(ThumbHash.ApproximateAspectRatio(Convert.FromBase64String(item.GetProperty("placeholder").GetString()!)) < 1);
    }

    [Fact]
    public async Task Placeholder_OfAnAnimatedGif_IsItsFirstFrame()
    {
        await using var app = new ImagebinApp();
        var owner = await app.OwnerAsync();
        using var first = Image.Black(60, 40, bands: 3).NewFromImage(250, 20, 20).Cast(Enums.BandFormat.Uchar);
        using var second = Image.Black(60, 40, bands: 3).NewFromImage(20, 20, 250).Cast(Enums.BandFormat.Uchar);
        using var frames = Image.Arrayjoin([first, second], across: 1);
        using var animated = frames.Mutate(m =>
        {
            m.Set(GValue.GIntType, "page-height", 40);
            m.Set(GValue.ArrayIntType, "delay", new[] { 100, 100 });
        });

        var item = await owner.WaitForScanAsync((await owner.UploadAsync(animated.GifsaveBuffer(), "image/gif")).GetProperty("id").GetString()!);

        Assert.Equal(2, item.GetProperty("frames").GetInt32());
        var hash = Convert.FromBase64String(item.GetProperty("placeholder").GetString()!);
        Assert.Equal(1.5, ThumbHash.ApproximateAspectRatio(hash), 0.3);
        var (r, _, b, _) = ThumbHash.AverageRgba(hash);
        Assert.True(r > 0.7 && b < 0.3, $"the first frame is red: r={r} b={b}");
    }

    /// <summary>
    /// A private item's placeholder is a blurred preview of it, so it goes exactly where the item goes: to its owner and to
    /// whoever has the share secret, never to anyone else (who gets 404 for the whole item).
    /// </summary>
    [Theory, Backends]
    public async Task PrivateItem_Placeholder_OnlyForTheOwnerOrWithTheSecret(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var stranger = await app.OwnerAsync("mallory");
        var uploaded = await owner.UploadAsync(TestImages.Png(80, 60), "image/png", request => request.Headers.Add("x-private", "1"));
        var id = uploaded.GetProperty("id").GetString()!;
        var item = await owner.WaitForScanAsync(id);
        var placeholder = item.GetProperty("placeholder").GetString();
        Assert.False(string.IsNullOrEmpty(placeholder));
        var secret = new Uri(item.GetProperty("url").GetString()!).Query;
        Assert.StartsWith("?s=", secret);

        using (var withoutSecret = await app.Anonymous().GetAsync($"/api/v1/items/{id}"))
        {
            await withoutSecret.AssertErrorAsync(404, "not_found");
        }

        using (var otherAccount = await stranger.GetAsync($"/api/v1/items/{id}"))
        {
            await otherAccount.AssertErrorAsync(404, "not_found");
        }

        var shared = await app.Anonymous().GetFromJsonAsync<JsonElement>($"/api/v1/items/{id}{secret}");
        Assert.Equal(placeholder, shared.GetProperty("placeholder").GetString());
        Assert.False(shared.TryGetProperty("scan_state", out _));
        var listed = await owner.GetFromJsonAsync<JsonElement>("/api/v1/account/items");
        Assert.Equal(placeholder, listed.GetProperty("items")[0].GetProperty("placeholder").GetString());
    }
}
