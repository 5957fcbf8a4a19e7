/** An error answered in the AWS JSON error shape: `{"__type": type, "message": ...}`. */
export class ApiError extends Error {
  readonly type: string;
  readonly status: number;
  constructor(type: string, message: string, status = 400) {
    super(message);
    this.type = type;
    this.status = status;
  }
}

export const validation = (message: string): ApiError => new ApiError("ValidationException", message);
