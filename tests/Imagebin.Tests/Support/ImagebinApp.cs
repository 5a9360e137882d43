using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Imagebin.Features.Accounts;
using Imagebin.Storage;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Imagebin.Tests.Support;

/// <summary>
/// One Imagebin per test (or class), in memory, over its own data directory (SQLite file, blobs and temp files) or, on
/// <see cref="Backend.ScaleOut"/>, its own PostgreSQL database and S3 bucket. Tests share no state.
/// </summary>
public sealed class ImagebinApp : WebApplicationFactory<Program>
{
    public const string BaseUrl = "http://localhost";
    private readonly Dictionary<string, string?> _settings;

    public ImagebinApp(Backend backend = Backend.Embedded, Dictionary<string, string?>? settings = null, string? dataDir = null)
    {
        Backend = backend;
        DataDir = dataDir ?? Directory.CreateTempSubdirectory("imagebin-test-").FullName;
        OwnsDataDir = dataDir is null;
        _settings = new Dictionary<string, string?>
        {
            ["Imagebin:DataDir"] = DataDir,
            ["Imagebin:PublicBaseUrl"] = BaseUrl,
            ["Jobs:PollSeconds"] = "0.2",
        };
        if (backend == Backend.ScaleOut && settings?.ContainsKey("ConnectionStrings:Imagebin") != true)
        {
            ConnectionString = TestServices.CreateDatabase();
            Bucket = $"ib-{Guid.NewGuid():N}"[..24];
            foreach (var (key, value) in TestServices.ScaleOutSettings(ConnectionString, Bucket))
            {
                _settings[key] = value;
            }
        }
        foreach (var (key, value) in settings ?? [])
        {
            _settings[key] = value;
        }
    }

    public Backend Backend { get; }

    /// <summary>Services a test adds to the app (e.g. a job handler), before it starts.</summary>
    public Action<IServiceCollection>? ExtraServices { get; init; }

    /// <summary>The PostgreSQL database this app made (scale-out only); dropped on dispose.</summary>
    public string? ConnectionString { get; }

    public string? Bucket { get; }

    public string DataDir { get; }

    public bool OwnsDataDir { get; set; }

    public string BlobDir => Path.Combine(DataDir, "blobs");

    public string TempDir => Path.Combine(DataDir, "tmp");

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }

        if (ExtraServices is not null)
        {
            builder.ConfigureServices(ExtraServices);
        }
    }

    /// <summary>Creates an account (unless it exists) and a key for it through the same services the admin commands use.</summary>
    public async Task<string> CreateKeyAsync(
        string account = "alice",
        string scopes = "image:create,image:read,image:delete",
        string? audience = null,
        TimeSpan? lifetime = null)
    {
        await using var scope = Services.CreateAsyncScope();
        var accounts = scope.ServiceProvider.GetRequiredService<AccountService>();
        var existing = await accounts.FindByNameAsync(account, CancellationToken.None)
            ?? (await accounts.CreateAsync(account, admin: false, password: "correct horse battery", CancellationToken.None)).Account;
        var created = await scope.ServiceProvider.GetRequiredService<ApiKeys>()
            .CreateAsync(existing.Id, scopes.Split(','), audience, lifetime, CancellationToken.None);
        return created.Token;
    }

    public HttpClient ClientWithKey(string key)
    {
        var client = CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    public HttpClient Anonymous() => CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });

    public async Task<HttpClient> OwnerAsync(string account = "alice", string scopes = "image:create,image:read,image:delete") =>
        ClientWithKey(await CreateKeyAsync(account, scopes));

    /// <summary>Every file under the file-system blob store (staging files included).</summary>
    public string[] BlobFiles() => Directory.Exists(BlobDir) ? Directory.GetFiles(BlobDir, "*", SearchOption.AllDirectories) : [];

    /// <summary>Every key in the blob store, whichever it is (for files, staging files included).</summary>
    public async Task<List<string>> BlobKeysAsync()
    {
        var keys = new List<string>();
        await foreach (var (key, _) in Services.GetRequiredService<IBlobStore>().ListAsync(CancellationToken.None))
        {
            keys.Add(key);
        }

        return keys;
    }

    public string[] TempFiles() => Directory.Exists(TempDir) ? Directory.GetFiles(TempDir) : [];

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (ConnectionString is not null)
        {
            TestServices.DropDatabase(ConnectionString);
        }

        if (Bucket is not null)
        {
            TestServices.DeleteBucket(Bucket);
        }

        if (OwnsDataDir)
        {
            try
            {
                Directory.Delete(DataDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}

public static class HttpExtensions
{
    public static async Task<JsonElement> JsonAsync(this HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Asserts status and the contract's error code, and that the body is problem+json.</summary>
    public static async Task AssertErrorAsync(this HttpResponseMessage response, int status, string code)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"Expected {status} {code}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var json = JsonDocument.Parse(body).RootElement;
        Assert.Equal(code, json.GetProperty("error").GetString());
        Assert.Equal(status, json.GetProperty("status").GetInt32());
        Assert.DoesNotContain("   at ", body);
    }

    public static async Task<JsonElement> UploadAsync(this HttpClient client, byte[] image, string contentType = "image/jpeg", Action<HttpRequestMessage>? configure = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/items") { Content = new ByteArrayContent(image) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        configure?.Invoke(request);
        using var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.Created, $"Upload failed: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    /// <summary>Polls the owner's view until the scan has decided.</summary>
    public static async Task<JsonElement> WaitForScanAsync(this HttpClient owner, string id, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var item = await owner.GetFromJsonAsync<JsonElement>($"/api/v1/items/{id}");
            var state = item.GetProperty("scan_state").GetString();
            if (state is not ("pending" or "scanning"))
            {
                return item;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Item {id} still {state}.");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Neither browsers nor shared caches may keep the answer.</summary>
    public static void AssertNotCacheable(this HttpResponseMessage response)
    {
        var cacheControl = response.Headers.CacheControl;
        Assert.NotNull(cacheControl);
        Assert.True(cacheControl.Private && cacheControl.NoStore && !cacheControl.Public, cacheControl.ToString());
    }

    /// <summary>The path and query of an absolute URL the API returned, for the in-memory client.</summary>
    public static string PathOf(this JsonElement item, string property) => new Uri(item.GetProperty(property).GetString()!).PathAndQuery;
}
