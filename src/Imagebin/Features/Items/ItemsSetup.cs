using Imagebin.Data;
using Imagebin.Features.Media;
using Imagebin.Infrastructure;
using Imagebin.Jobs;
using Imagebin.Storage;
using Microsoft.Extensions.Options;

namespace Imagebin.Features.Items;

public static class ItemsSetup
{
    /// <summary>Items, their blobs and the direct path.</summary>
    public static WebApplicationBuilder AddItems(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<LimitsOptions>().BindConfiguration(LimitsOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<StorageOptions>().BindConfiguration(StorageOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<AnonymousUploadOptions>().BindConfiguration(AnonymousUploadOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<TurnstileOptions>().BindConfiguration(TurnstileOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddHttpClient<TurnstileVerifier>(client => client.Timeout = Timeout.InfiniteTimeSpan);
        services.AddOptions<MediaOptions>().BindConfiguration(MediaOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton(provider => new S3BlobStore(provider.GetRequiredService<IOptions<StorageOptions>>().Value.S3));
        services.AddSingleton<IBlobStore>(provider =>
        {
            var storage = provider.GetRequiredService<IOptions<StorageOptions>>().Value;
            var dataDir = provider.GetRequiredService<IOptions<ImagebinOptions>>().Value.DataDir;
            if (storage.Provider != StorageProvider.S3)
            {
                return new FileSystemBlobStore(storage.Path ?? Path.Combine(dataDir, "blobs"));
            }

            var bucket = provider.GetRequiredService<S3BlobStore>();
            return storage.S3.LocalCacheBytes == 0
                ? bucket
                : new LocalBlobCache(bucket, storage.S3.LocalCachePath ?? Path.Combine(dataDir, "cache", "blobs"), storage.S3.LocalCacheBytes,
                    provider.GetRequiredService<INodeSignals>(), provider.GetRequiredService<ILogger<LocalBlobCache>>());
        });
        services.AddHostedService<S3BucketSetup>();
        services.AddSingleton<ReadRedirects>();
        services.AddSingleton<VariantEncoder>();
        services.AddSingleton<VariantStore>();
        services.AddSingleton<PlaceholderBackfill>();
        services.AddSingleton<BlobReferences>();
        services.AddScoped<Ingest.Ingest>();
        services.AddSingleton<MediaCatalog>();
        services.AddSingleton<DownloadCounter>();
        services.AddHostedService(provider => provider.GetRequiredService<DownloadCounter>());

        var roles = new ImagebinOptions { Roles = builder.Configuration[$"{ImagebinOptions.Section}:Roles"] ?? new ImagebinOptions().Roles };
        if (roles.HasRole("worker"))
        {
            services.AddHostedService<Maintenance>();
        }

        // libvips caches operations by file name; every upload is a new file, so the cache only holds memory and handles.
        NetVips.Cache.Max = 0;
        NetVips.Cache.MaxFiles = 0;
        // Loaders that can run scripts or read other files (SVG, PDF, Matlab, …) are never used, whatever the bytes claim.
        NetVips.NetVips.BlockUntrusted = true;
        return builder;
    }
}
