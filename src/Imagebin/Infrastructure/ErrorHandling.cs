using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Features;

namespace Imagebin.Infrastructure;

/// <summary>Maps every failure that escapes a handler to problem+json: no stack traces leave the server.</summary>
public static class ErrorHandling
{
    public static IApplicationBuilder UseApiErrors(this IApplicationBuilder app)
    {
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            ExceptionHandler = async context =>
            {
                var exception = context.Features.Get<IExceptionHandlerFeature>()?.Error;
                var error = exception switch
                {
                    ApiException api => api.ToResult(),
                    BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } =>
                        new ApiError(ErrorCodes.RequestTooLarge, "The request body is larger than the upload limit."),
                    BadHttpRequestException bad => new ApiError(ErrorCodes.InvalidRequest, bad.Message),
                    _ => new ApiError(ErrorCodes.InternalError, "Something went wrong on our side."),
                };
                await error.WriteAsync(context);
            },
        });

        // Routing answers 404/405 with an empty body; give them the same shape as every other error.
        app.UseStatusCodePages(async statusContext =>
        {
            var context = statusContext.HttpContext;
            var code = context.Response.StatusCode switch
            {
                StatusCodes.Status404NotFound => ErrorCodes.NotFound,
                StatusCodes.Status405MethodNotAllowed => ErrorCodes.MethodNotAllowed,
                StatusCodes.Status413PayloadTooLarge => ErrorCodes.RequestTooLarge,
                StatusCodes.Status415UnsupportedMediaType => ErrorCodes.UnsupportedMediaType,
                _ => null,
            };
            if (code is not null && context.Features.Get<IHttpResponseFeature>() is { HasStarted: false })
            {
                await new ApiError(code).WriteAsync(context);
            }
        });
        return app;
    }
}
