// A module that registers no handlers: `kopf run` warns that nothing was registered.

export {};
