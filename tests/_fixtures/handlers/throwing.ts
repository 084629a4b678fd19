// A handler module that throws while it is imported: `kopf run` must report it in one line.

throw new Error("The database password is not set");
