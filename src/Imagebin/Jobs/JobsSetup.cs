using Imagebin.Infrastructure;

namespace Imagebin.Jobs;

public static class JobsSetup
{
    public static WebApplicationBuilder AddJobs(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<JobsOptions>().BindConfiguration(JobsOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<JobQueue>();
        var roles = builder.Configuration[$"{ImagebinOptions.Section}:Roles"];
        if (new ImagebinOptions { Roles = roles ?? new ImagebinOptions().Roles }.HasRole("worker"))
        {
            builder.Services.AddHostedService<JobWorker>();
        }

        return builder;
    }
}
