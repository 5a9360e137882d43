using Imagebin.Data;
using Microsoft.Extensions.Options;

namespace Imagebin.Jobs;

/// <summary>The <c>worker</c> role: claims jobs and runs their handlers, several at once.</summary>
public sealed class JobWorker(
    JobQueue queue,
    IEnumerable<IJobHandler> handlers,
    IOptions<JobsOptions> options,
    ILogger<JobWorker> logger) : BackgroundService
{
    private readonly Dictionary<string, IJobHandler> _handlers = handlers.ToDictionary(h => h.Kind);
    private readonly string _workerId = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}";

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, options.Value.Concurrency).Select(slot => RunLoopAsync($"{_workerId}:{slot}", stoppingToken)));

    private async Task RunLoopAsync(string worker, CancellationToken stoppingToken)
    {
        await Task.Yield();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var job = await queue.ClaimAsync(worker, stoppingToken);
                if (job is null)
                {
                    await queue.WaitAsync(stoppingToken);
                    continue;
                }

                await RunAsync(job, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                // The store itself failed (locked, gone); back off and try again rather than kill the worker.
                logger.LogError(exception, "Job loop {Worker} failed", worker);
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    private async Task RunAsync(Job job, CancellationToken stoppingToken)
    {
        if (!_handlers.TryGetValue(job.Kind, out var handler))
        {
            await FailAsync(job, null, $"No handler for job kind '{job.Kind}'.", stoppingToken);
            return;
        }

        try
        {
            await handler.HandleAsync(job, stoppingToken);
            await queue.CompleteAsync(job, stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: the lease expires and another worker (or this one after a restart) runs the job again.
            throw;
        }
        catch (Exception exception)
        {
            logger.LogWarning(exception, "Job {JobId} ({Kind}) attempt {Attempt} failed", job.Id, job.Kind, job.Attempts);
            await FailAsync(job, handler, exception.Message, stoppingToken);
        }
    }

    private async Task FailAsync(Job job, IJobHandler? handler, string error, CancellationToken cancellationToken)
    {
        if (await queue.RetryOrFailAsync(job, error, cancellationToken) && handler is not null)
        {
            await handler.OnExhaustedAsync(job, error, cancellationToken);
        }
    }
}
