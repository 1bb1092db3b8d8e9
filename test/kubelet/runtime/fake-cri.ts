import {
  ContainerState,
  GrpcStatusError,
  PodSandboxState,
  type ContainerConfig,
  type ImageServiceClient,
  type PodSandboxConfig,
  type RuntimeServiceClient,
} from '../../../specs/cri/index.js';

/** One call the fake saw. */
export interface FakeCall {
  readonly method: string;
  readonly request: Record<string, unknown>;
}

interface FakeSandbox {
  id: string;
  config: PodSandboxConfig;
  state: PodSandboxState;
  createdAt: bigint;
}

interface FakeContainer {
  id: string;
  sandboxId: string;
  config: ContainerConfig;
  state: ContainerState;
  createdAt: bigint;
  startedAt: bigint;
  finishedAt: bigint;
  exitCode: number;
}

/** Programmable answers: a method name to a function that may throw or delay. */
export type FakeBehaviour = Partial<Record<string, (request: Record<string, unknown>) => Promise<unknown> | unknown>>;

/**
 * An in-memory CRI runtime shaped as grpc-js clients, for what the pod
 * workers call through callUnary: each method takes (request, metadata,
 * options, callback) and answers on a later tick.
 */
export class FakeCri {
  readonly calls: FakeCall[] = [];
  readonly sandboxes = new Map<string, FakeSandbox>();
  readonly containers = new Map<string, FakeContainer>();
  readonly presentImages = new Set<string>();
  behaviour: FakeBehaviour = {};
  #next = 0;

  #id(prefix: string): string {
    this.#next += 1;
    return `${prefix}${this.#next}`;
  }

  #now(): bigint {
    return BigInt(Date.now()) * 1_000_000n;
  }

  #handlers(): Record<string, (request: Record<string, unknown>) => unknown> {
    return {
      listPodSandbox: () => ({
        items: [...this.sandboxes.values()].map((sandbox) => ({
          id: sandbox.id,
          metadata: sandbox.config.metadata,
          state: sandbox.state,
          createdAt: sandbox.createdAt,
          labels: sandbox.config.labels,
          annotations: sandbox.config.annotations,
          runtimeHandler: '',
        })),
      }),
      listContainers: () => ({
        containers: [...this.containers.values()].map((container) => ({
          id: container.id,
          podSandboxId: container.sandboxId,
          metadata: container.config.metadata,
          image: container.config.image,
          imageRef: 'sha256:fake',
          state: container.state,
          createdAt: container.createdAt,
          labels: container.config.labels,
          annotations: container.config.annotations,
          imageId: 'sha256:fake',
        })),
      }),
      containerStatus: (request) => {
        const container = this.#container(String(request['containerId']));
        return {
          status: {
            id: container.id,
            metadata: container.config.metadata,
            state: container.state,
            createdAt: container.createdAt,
            startedAt: container.startedAt,
            finishedAt: container.finishedAt,
            exitCode: container.exitCode,
            image: container.config.image,
            imageRef: 'sha256:fake',
            reason: '',
            message: '',
            labels: container.config.labels,
            annotations: container.config.annotations,
            mounts: [],
            logPath: '',
            imageId: '',
            stopSignal: 0,
          },
          info: {},
        };
      },
      podSandboxStatus: (request) => {
        const sandbox = this.sandboxes.get(String(request['podSandboxId']));
        if (sandbox === undefined) throw new GrpcStatusError({ code: 'NOT_FOUND', message: 'no sandbox' });
        return { status: { id: sandbox.id, metadata: sandbox.config.metadata, state: sandbox.state, createdAt: sandbox.createdAt, network: { ip: '10.9.0.2', additionalIps: [] }, labels: sandbox.config.labels, annotations: sandbox.config.annotations, runtimeHandler: '' }, info: {}, containersStatuses: [], timestamp: 0n };
      },
      runPodSandbox: (request) => {
        const id = this.#id('sb');
        this.sandboxes.set(id, { id, config: request['config'] as PodSandboxConfig, state: PodSandboxState.SANDBOX_READY, createdAt: this.#now() });
        return { podSandboxId: id };
      },
      stopPodSandbox: (request) => {
        const sandbox = this.sandboxes.get(String(request['podSandboxId']));
        if (sandbox !== undefined) sandbox.state = PodSandboxState.SANDBOX_NOTREADY;
        return {};
      },
      removePodSandbox: (request) => {
        this.sandboxes.delete(String(request['podSandboxId']));
        for (const [id, container] of this.containers) if (container.sandboxId === request['podSandboxId']) this.containers.delete(id);
        return {};
      },
      createContainer: (request) => {
        const id = this.#id('ctr');
        this.containers.set(id, { id, sandboxId: String(request['podSandboxId']), config: request['config'] as ContainerConfig, state: ContainerState.CONTAINER_CREATED, createdAt: this.#now(), startedAt: 0n, finishedAt: 0n, exitCode: 0 });
        return { containerId: id };
      },
      startContainer: (request) => {
        const container = this.#container(String(request['containerId']));
        container.state = ContainerState.CONTAINER_RUNNING;
        container.startedAt = this.#now();
        return {};
      },
      stopContainer: (request) => {
        const container = this.#container(String(request['containerId']));
        if (container.state === ContainerState.CONTAINER_RUNNING) {
          container.state = ContainerState.CONTAINER_EXITED;
          container.finishedAt = this.#now();
          container.exitCode = 143;
        }
        return {};
      },
      removeContainer: (request) => {
        this.containers.delete(String(request['containerId']));
        return {};
      },
      execSync: () => ({ stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), exitCode: 0 }),
      imageStatus: (request) => {
        const image = String((request['image'] as { image: string }).image);
        return { image: this.presentImages.has(image) ? { id: `sha256:${image}`, repoTags: [image], repoDigests: [], size: 1n, username: '', pinned: false } : undefined, info: {} };
      },
      pullImage: (request) => {
        const image = String((request['image'] as { image: string }).image);
        this.presentImages.add(image);
        return { imageRef: `sha256:${image}` };
      },
    };
  }

  #container(id: string): FakeContainer {
    const container = this.containers.get(id);
    if (container === undefined) throw new GrpcStatusError({ code: 'NOT_FOUND', message: `no container ${id}` });
    return container;
  }

  /** Marks a container exited with `exitCode`. */
  exit(id: string, exitCode: number): void {
    const container = this.#container(id);
    container.state = ContainerState.CONTAINER_EXITED;
    container.exitCode = exitCode;
    container.finishedAt = this.#now();
  }

  #client(): Record<string, unknown> {
    const handlers = this.#handlers();
    const client: Record<string, unknown> = {};
    for (const [method, handler] of Object.entries(handlers)) {
      client[method] = (request: Record<string, unknown>, _metadata: unknown, _options: unknown, callback: (error: unknown, response?: unknown) => void) => {
        this.calls.push({ method, request });
        const override = this.behaviour[method];
        void (async () => {
          try {
            const response = override === undefined ? handler(request) : await override(request);
            callback(null, response === undefined ? handler(request) : response);
          } catch (error) {
            const status = GrpcStatusError.from(error);
            callback(Object.assign(new Error(status.message), { code: status.codeNumber, details: status.message, metadata: undefined }));
          }
        })();
        return { cancel() {} };
      };
    }
    return client;
  }

  get runtime(): RuntimeServiceClient {
    return this.#client() as unknown as RuntimeServiceClient;
  }

  get images(): ImageServiceClient {
    return this.#client() as unknown as ImageServiceClient;
  }

  /** Method names of the calls so far, optionally only those in `only`. */
  methods(only?: readonly string[]): string[] {
    return this.calls.map((call) => call.method).filter((method) => only === undefined || only.includes(method));
  }
}
