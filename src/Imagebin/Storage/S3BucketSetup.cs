namespace Imagebin.Storage;

/// <summary>
/// Makes sure the S3 bucket exists before anything else starts (the first hook of the host's start), so a wrong
/// endpoint, bucket or credential stops the node at start-up with the reason instead of failing uploads later.
/// Does nothing for other stores.
/// </summary>
public sealed class S3BucketSetup(IBlobStore store) : IHostedLifecycleService
{
    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        if (store is S3BlobStore s3)
        {
            await s3.EnsureBucketAsync(cancellationToken);
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
