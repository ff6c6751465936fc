# Calling Azure: error translation, waiting on long-running operations (with a deadline and
# SIGTERM), and putting things back after a failure.


def azml_enum_text(value) -> str:
    # The text of a value the SDK may give as a str enum (DeploymentProvisioningState.CREATING,
    # JobStatus.COMPLETED, DatastoreType.AZURE_BLOB): its value, since str() of such an enum is
    # "ClassName.MEMBER".
    return str(getattr(value, "value", value))


def azml_describe_error(error: BaseException) -> str:
    # One line a pipeline user can act on: HTTP status, Azure's error code and message. A
    # long-running operation that ended Failed is reported by its last poll, which was a 200:
    # the status is only worth showing when it is an error status.
    status = getattr(error, "status_code", None)
    inner = getattr(error, "error", None)
    code = getattr(inner, "code", None)
    message = getattr(inner, "message", None) or getattr(error, "message", None) or str(error)
    message = " ".join(str(message).split())
    if code and not (isinstance(status, int) and status >= 400):
        return f"{type(error).__name__}: the operation failed: {code}: {message}"
    parts = [type(error).__name__]
    if isinstance(status, int) and status >= 400:
        parts.append(f"HTTP {status}")
    if code:
        parts.append(str(code))
    return f"{' '.join(parts)}: {message}"


def azml_status_of(error: BaseException):
    # The HTTP status behind an error azml_call raised (or an SDK error itself), else None.
    for candidate in (error, getattr(error, "__cause__", None)):
        status = getattr(candidate, "status_code", None)
        if isinstance(status, int):
            return status
    return None


def azml_scope_of(url: str):
    # (subscription, resource group, workspace) an ARM request URL names, or None.
    import re

    match = re.search(
        r"/subscriptions/([^/?]+)/resourceGroups/([^/?]+)/providers/"
        r"Microsoft\.MachineLearningServices/workspaces/([^/?]+)",
        url,
        re.IGNORECASE,
    )
    return match.groups() if match else None


def azml_missing_scope(error: BaseException, client=None) -> None:
    # A 404 can mean that the workspace the inputs name does not exist, not the thing read: it
    # must not be reported as "not registered". ARM answers a request under a subscription or
    # resource group that does not exist with SubscriptionNotFound or ResourceGroupNotFound,
    # and a request for a missing resource with ResourceNotFound "The Resource
    # '<type>/<name>' under resource group '<group>' was not found." (ARM docs: "Troubleshoot
    # common Azure deployment errors", "Resolve errors for resource not found"); such an answer
    # raises ValueError naming the field. Any other 404 is checked, when the run's client is
    # given, by reading the workspace itself (an ARM-tracked resource, answered as above),
    # once per client: its 404 names the field the same way. Otherwise (or when the workspace
    # read fails otherwise) this returns: the 404 is about the thing read.
    from azure.core.exceptions import AzureError, ResourceNotFoundError

    request = getattr(getattr(error, "response", None), "request", None)
    scope = azml_scope_of(str(getattr(request, "url", "") or ""))
    if scope is None and client is not None:
        scope = (client.subscription_id, client.resource_group_name, client.workspace_name)
    if scope is None:
        return
    sub, group, workspace = scope
    code = str(getattr(getattr(error, "error", None), "code", "") or "")
    said = azml_describe_error(error)
    if code == "SubscriptionNotFound":
        raise ValueError(
            f"subscription_id: subscription {sub!r} was not found, or these credentials have no "
            f"access to it ({said})"
        )
    if code == "ResourceGroupNotFound":
        raise ValueError(
            f"resource_group: resource group {group!r} was not found in subscription {sub} "
            f"({said})"
        )
    named = f"microsoft.machinelearningservices/workspaces/{workspace}'".lower()
    if code == "WorkspaceNotFound" or (code == "ResourceNotFound" and named in said.lower()):
        raise ValueError(
            f"workspace_name: workspace {workspace!r} was not found in resource group {group!r} "
            f"(subscription {sub}) ({said})"
        )
    if client is None or getattr(client, "azml_workspace_found", False):
        return
    try:
        from azure.ai.ml.exceptions import MlException
    except ImportError:  # pragma: no cover - the SDK always has it
        MlException = AzureError  # noqa: N806
    try:
        client.workspaces.get(client.workspace_name)
    except ResourceNotFoundError as missing:
        azml_missing_scope(missing)
        raise ValueError(
            f"workspace_name: workspace {workspace!r} was not found in resource group {group!r} "
            f"(subscription {sub}) ({azml_describe_error(missing)})"
        ) from missing
    except (AzureError, MlException):
        return  # the workspace cannot be read (no right to?): the 404 is reported as it came
    client.azml_workspace_found = True


def azml_call(what: str, function, *args, **kwargs):
    # Run one SDK call; Azure and SDK errors become a RuntimeError that says what was attempted.
    # A 404 that says the workspace itself (or its resource group or subscription) does not
    # exist is a ValueError naming that input (azml_missing_scope).
    from azure.core.exceptions import AzureError, ClientAuthenticationError, ResourceNotFoundError

    try:
        from azure.ai.ml.exceptions import MlException
    except ImportError:  # pragma: no cover - the SDK always has it
        MlException = AzureError  # noqa: N806
    try:
        return function(*args, **kwargs)
    except ClientAuthenticationError as error:
        raise RuntimeError(
            f"{what} failed: Azure rejected the credentials ({azml_describe_error(error)}); check "
            "the azcreds secret (AZ_TENANT_ID, AZ_CLIENT_ID, AZ_CLIENT_SECRET) or the identity"
        ) from error
    except (AzureError, MlException) as error:
        if isinstance(error, ResourceNotFoundError):
            azml_missing_scope(error)
        raise RuntimeError(f"{what} failed: {azml_describe_error(error)}") from error


def azml_wait(what: str, function, timeout_seconds: int, poll_seconds: float = 0.5):
    # Run a blocking SDK call (a poller's result, an upload) with a deadline. The call runs in a
    # daemon thread so that the deadline and SIGTERM (the pipeline run was cancelled) can end
    # the wait: the caller gets TimeoutError or InterruptedError and can put things back before
    # exiting non-zero. Azure errors are translated as in azml_call.
    import signal
    import threading
    import time

    outcome = {}

    def target():
        try:
            outcome["value"] = azml_call(what, function)
        except BaseException as error:  # handed to the waiting thread
            outcome["error"] = error

    received = []
    # Only the main thread may set handlers; a caller that chose to ignore SIGTERM (a rollback
    # under way) keeps ignoring it.
    handle_sigterm = (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) is not signal.SIG_IGN
    )
    previous = None
    if handle_sigterm:
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))
    worker = threading.Thread(target=target, name=f"azml-wait: {what}", daemon=True)
    deadline = time.monotonic() + timeout_seconds
    try:
        worker.start()
        while worker.is_alive():
            if received:
                raise InterruptedError(f"{what}: cancelled by SIGTERM while waiting")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"{what}: not finished after {timeout_seconds} s; raise timeout_seconds or "
                    "check the resource in Azure ML studio"
                )
            worker.join(min(poll_seconds, remaining))
    finally:
        if handle_sigterm:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
    if received:
        raise InterruptedError(f"{what}: cancelled by SIGTERM while waiting")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def azml_get_or_none(what: str, function, *args, client=None):
    # A read where "not found" is an answer, not an error. With the run's client, a 404 is
    # first checked not to be about the workspace itself (azml_missing_scope): give it wherever
    # "not found" is reported to the user or decides what to create.
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return azml_call(what, function, *args)
    except RuntimeError as error:
        if isinstance(error.__cause__, ResourceNotFoundError):
            azml_missing_scope(error.__cause__, client)
            return None
        raise


def azml_best_effort(what: str, function, timeout_seconds: int) -> str:
    # Clean-up after a failure must not hide the failure: report, never raise.
    try:
        azml_wait(what, function, timeout_seconds)
        return f"{what}: done"
    except BaseException as error:  # noqa: BLE001 - reported in the message instead
        return f"{what}: FAILED ({error})"


def azml_cleanup_seconds(error, timeout_seconds: int) -> int:
    # How long the undo after a failure may take in all, on top of the failed step: as long
    # again as timeout_seconds, at least 30 s (deleting an endpoint takes about that) and at most
    # 10 minutes; 20 s after SIGTERM (a cancelled pod is killed soon after, docs/cluster.md).
    # What the undo cannot finish in that time is named in the error; the next run on the
    # endpoint finishes or undoes it.
    if isinstance(error, InterruptedError):
        return 20
    return min(600, max(30, int(timeout_seconds)))


def azml_undo_and_raise(error: BaseException, lines: list, undo: list, timeout_seconds: int):
    # After `error`: run each (what, function) of `undo` in order as a best effort, all within
    # timeout_seconds (see azml_cleanup_seconds), then raise with `lines` and how each undo step
    # went. A cancellation (InterruptedError) or a deadline (TimeoutError) keeps its type, so
    # the caller can still tell; anything else becomes a RuntimeError. Used by deploy_model,
    # safe_rollout and deploy_batch_model alike.
    import time

    deadline = time.monotonic() + timeout_seconds
    notes = []
    for what, function in undo:
        remaining = max(1, int(deadline - time.monotonic()))
        notes.append(azml_best_effort(what, function, remaining))
    if any(": FAILED (" in note for note in notes):
        notes.append(
            f"What the undo could not finish (it may take {timeout_seconds} s in all) is left: "
            "the next run on this endpoint finishes or undoes it, or delete it in Azure ML studio."
        )
    message = "\n".join([*lines, *notes])
    if isinstance(error, (InterruptedError, TimeoutError)):
        raise type(error)(message) from error
    raise RuntimeError(message) from error


def azml_wait_until_idle(what: str, read, timeout_seconds: int, poll_seconds: float = 1.0):
    # An online endpoint or deployment with an operation running (Creating, Updating,
    # Deleting, Scaling) answers any new operation with 409 Conflict (Azure ML docs,
    # how-to-troubleshoot-online-endpoints, "409 Conflict error"); a crashed or cancelled run
    # leaves its operation running in Azure. Poll `read` (a GET of the entity) until its
    # provisioning state is final; returns the entity, or None once it is gone. TimeoutError
    # after timeout_seconds; SIGTERM ends the wait as in azml_wait.
    import time

    busy = {"creating", "updating", "deleting", "scaling"}
    deadline = time.monotonic() + timeout_seconds

    def state_of(entity) -> str:
        return azml_enum_text(getattr(entity, "provisioning_state", None) or "").lower()

    def poll():
        while True:
            entity = azml_get_or_none(what, read)
            if entity is None or state_of(entity) not in busy or time.monotonic() >= deadline:
                return entity
            time.sleep(poll_seconds)

    entity = azml_wait(f"waiting for the operation running on {what}", poll, timeout_seconds)
    state = state_of(entity)
    if entity is not None and state in busy:
        raise TimeoutError(
            f"{what}: still {state} after {timeout_seconds} s; raise timeout_seconds or check "
            "the resource in Azure ML studio"
        )
    return entity


def azml_when_idle(what: str, read, write, timeout_seconds: int):
    # A write (a blocking PUT or DELETE) that waits out an operation already running on the
    # resource: Azure's 409 Conflict is answered by waiting for that operation to end, then
    # writing again, all within timeout_seconds. Other errors are raised as they are.
    import time

    deadline = time.monotonic() + timeout_seconds
    try:
        return azml_wait(what, write, timeout_seconds)
    except RuntimeError as error:
        if azml_status_of(error) != 409:
            raise
    print(f"{what}: Azure reports an operation running on it; waiting for it to end")
    remaining = max(1, int(deadline - time.monotonic()))
    azml_wait_until_idle(what, read, remaining)
    return azml_wait(what, write, max(1, int(deadline - time.monotonic())))


def azml_forget_invoke_headers() -> None:
    # azure-ai-ml 1.35's online_endpoints.invoke and batch_endpoints.invoke write the key and
    # deployment headers into the shared EndpointInvokeFields.DEFAULT_HEADER dict and never remove
    # them, so a later invoke in the same process would go to that deployment: clear both.
    from azure.ai.ml.constants._endpoint import EndpointInvokeFields

    for header in (EndpointInvokeFields.MODEL_DEPLOYMENT, EndpointInvokeFields.AUTHORIZATION):
        EndpointInvokeFields.DEFAULT_HEADER.pop(header, None)
