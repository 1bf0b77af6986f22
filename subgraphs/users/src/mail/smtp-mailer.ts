import nodemailer from 'nodemailer';
import type { Transporter } from 'nodemailer';
import type { MailMessage, Mailer } from './mailer';

/** Settings of the SMTP adapter (SMTP_* variables). */
export interface SmtpSettings {
  readonly host: string;
  /** Default 587. */
  readonly port: number;
  /** true: TLS from the first byte (465); false: STARTTLS when offered. */
  readonly secure: boolean;
  readonly user?: string | undefined;
  readonly password?: string | undefined;
  readonly from: string;
  /** Skip STARTTLS even when offered (tests against a plain local server). Default false. */
  readonly ignoreTls?: boolean;
}

/** The SMTP adapter of the mail port (nodemailer, pooled connections, bounded timeouts). */
export class SmtpMailer implements Mailer {
  readonly kind = 'smtp';
  private readonly transport: Transporter;

  constructor(private readonly settings: SmtpSettings) {
    this.transport = nodemailer.createTransport({
      host: settings.host,
      port: settings.port,
      secure: settings.secure,
      ignoreTLS: settings.ignoreTls ?? false,
      pool: true,
      maxConnections: 2,
      // A stuck server must not hold the dispatcher (and its row locks) for minutes.
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 20_000,
      ...(settings.user ? { auth: { user: settings.user, pass: settings.password ?? '' } } : {}),
    });
  }

  async send(message: MailMessage): Promise<void> {
    await this.transport.sendMail({
      from: this.settings.from,
      to: message.to,
      subject: message.subject,
      text: message.text,
      html: message.html,
      messageId: message.messageId,
      headers: { 'X-Shop-Template': message.template },
    });
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}
