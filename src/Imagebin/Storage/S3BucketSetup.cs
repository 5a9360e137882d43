namespace Imagebin.Storage;

/// <summary>
/// Makes sure the S3 bucket exists before anything else starts (the first hook of the host's start), so a wrong
/// endpoint, bucket or credential stops the node at start-up with the reason instead of failing uploads later.
/// Does nothing for other stores.
/// </summary>
public sealed class S3BucketSetup(IServiceProvider services, Microsoft.Extensions.Options.IOptions<StorageOptions> options) : IHostedLifecycleService
{
    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        if (options.Value.Provider == StorageProvider.S3)
        {
            await services.GetRequiredService<S3BlobStore>().EnsureBucketAsync(cancellationToken);
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
