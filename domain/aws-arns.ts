/**
 * AWS names an identity by its ARN, which carries the AWS account's number. A
 * provider's words reach the send ledger, the audit log and pages every member reads,
 * so ARNs are cut to their service.
 */
export const withoutAccountNumbers = (message: string) => message.replace(/\barn:aws[\w-]*:([\w-]+):[^\s"',;)]*/g, 'arn:aws:$1:…');
